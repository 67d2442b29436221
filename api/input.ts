// Input the API cannot take, whatever the route: strings PostgreSQL could not store (a NUL character, an unpaired
// surrogate) and bodies nested too deep. Checked once for every route, after the body is parsed and before any
// operation's own schema, so such input is a 400 naming the parameter, never a 5xx.
import type { RequestHandler } from 'express';
import { badRequest } from './errors';

/** Most arrays and objects a JSON body may nest (the deepest body the API takes nests 3: a rule set's lists). */
export const MAX_JSON_DEPTH = 16;

/** A NUL character or a UTF-16 surrogate without its partner: PostgreSQL stores neither in text or jsonb. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

interface JsonNode { value: unknown; key: string | number | undefined; parent: JsonNode | undefined; depth: number }

/** The dotted path of a node, as zod names parameters ("items.0.description"); bad characters in keys as U+FFFD. */
function pathOf(node: JsonNode): string {
  const parts: string[] = [];
  for (let n: JsonNode | undefined = node; n?.key !== undefined; n = n.parent) parts.push(String(n.key).replace(UNSTORABLE_ALL, '\uFFFD'));
  return parts.reverse().join('.');
}

/**
 * The first value of a parsed JSON body (or query) that cannot be taken: a string or a key with a NUL character or
 * an unpaired surrogate, or arrays and objects nested past MAX_JSON_DEPTH. Walked without recursion, so no body
 * can exhaust the stack.
 */
export function unacceptableValue(root: unknown): { param: string; message: string } | undefined {
  const stack: JsonNode[] = [{ value: root, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value, key } = node;
    if (typeof key === 'string' && UNSTORABLE.test(key)) {
      return { param: pathOf(node), message: 'has a name with a NUL character or an unpaired UTF-16 surrogate' };
    }
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) return { param: pathOf(node), message: 'contains a NUL character or an unpaired UTF-16 surrogate' };
    } else if (value !== null && typeof value === 'object') {
      const depth = node.depth + 1;
      if (depth > MAX_JSON_DEPTH) return { param: pathOf(node), message: `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels` };
      const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i][1], key: entries[i][0], parent: node, depth });
    }
  }
  return undefined;
}

/** For every route, after the body is parsed: 400 parameter_invalid naming the first value that cannot be taken. */
export const rejectUnacceptableInput: RequestHandler = (req, _res, next) => {
  for (const input of [req.body, req.query]) {
    const bad = unacceptableValue(input);
    if (bad) throw badRequest('parameter_invalid', `${bad.param}: ${bad.message}`, bad.param);
  }
  next();
};
