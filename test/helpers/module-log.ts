/**
 * Module hooks that append every module URL a process loads to the file named by WEIR_MODULE_LOG
 * (`node --import <this file's register script> …`), so a test can see what a command opens before it runs.
 */
import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(
  specifier: string,
  context: unknown,
  next: Next,
): Promise<{ url: string }> {
  const r = await next(specifier, context);
  const log = process.env.WEIR_MODULE_LOG;
  if (log) appendFileSync(log, `${r.url}\n`);
  return r;
}
