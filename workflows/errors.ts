/** The innermost message of a failure chain (a child's or activity's own error, not Temporal's wrappers). */
export function rootMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
