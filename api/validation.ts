// Strict request validation: zod schemas, unknown fields rejected, the first problem named with its path.
import type { Request } from 'express';
import { z } from 'zod';
import { badRequest } from './errors';

export function parseBody<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const body = req.body === undefined ? {} : req.body;
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const param = [...issue.path, key].join('.');
    throw badRequest('unknown_parameter', `Unknown parameter: ${param}`, param);
  }
  const param = issue.path.join('.') || undefined;
  const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], body);
  const code = value === undefined ? 'parameter_missing' : 'parameter_invalid';
  throw badRequest(code, param ? `${param}: ${issue.message}` : issue.message, param);
}

/** Ids in paths: a bounded charset, so nothing odd reaches SQL or workflow ids. */
export function pathId(req: Request, name: string): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(v)) throw badRequest('parameter_invalid', `Invalid ${name}`, name);
  return v;
}

export const name = z.string().trim().min(1).max(200);
