// Lint: workflows/ and domain/ stay deterministic. Their imports are checked against an allow-list:
//   domain/    → only other domain/ files;
//   workflows/ → domain/, other workflows/, @temporalio/workflow and @temporalio/common, and `import type`
//                from activities/ (types vanish at compile time).
// Node built-ins, I/O packages and implementation code of the I/O layers fail the check, as do clock and
// randomness in domain/ (time and ids are passed in).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import ts from 'typescript';
import { ROOT_DIR } from '../config';

const problems: string[] = [];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(spec: string, from: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT_DIR, resolve(dirname(from), spec)).split(/[\\/]/)[0];
}

function check(layer: 'domain' | 'workflows'): void {
  for (const file of files(join(ROOT_DIR, layer))) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const where = (node: ts.Node) =>
      `${relative(ROOT_DIR, file)}:${src.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const visit = (node: ts.Node): void => {
      let spec: string | undefined;
      let typeOnly = false;
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
        spec = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : undefined;
        typeOnly = ts.isImportDeclaration(node) ? !!node.importClause?.isTypeOnly : node.isTypeOnly;
      } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
        const arg = node.arguments[0];
        spec = arg && ts.isStringLiteral(arg) ? arg.text : '<dynamic>';
      }
      if (spec !== undefined) {
        const target = layerOf(spec, file);
        const allowed = layer === 'domain'
          ? target === 'domain'
          : target === 'domain' || target === 'workflows' || spec === '@temporalio/workflow' ||
            spec === '@temporalio/common' || (typeOnly && target === 'activities');
        const hint = target === 'activities' && layer === 'workflows' ? ' (use `import type` for activity types)' : '';
        if (!allowed) problems.push(`${where(node)}: ${layer}/ may not import '${spec}'${hint}`);
      }
      if (layer === 'domain' && (ts.isCallExpression(node) || ts.isNewExpression(node))) {
        const text = node.getText(src);
        if (/^(Date\.now\(|Math\.random\(|new Date\(\)|performance\.now\()/.test(text)) {
          problems.push(`${where(node)}: domain/ reads the clock or randomness (${text}); pass it in`);
        }
      }
      if (layer === 'domain' && ts.isIdentifier(node) && ['process', 'setTimeout', 'setInterval'].includes(node.text) &&
        !ts.isPropertyAccessExpression(node.parent)) {
        problems.push(`${where(node)}: domain/ uses '${node.text}'`);
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
}

check('domain');
check('workflows');
if (problems.length) {
  console.error(`Boundary check failed (workflows/ and domain/ must stay deterministic):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('boundary check: workflows/ and domain/ import only what is allowed');
