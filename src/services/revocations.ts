// The set of revoked license ids, held in memory so that every poll can be
// checked without a query, reloaded whenever the licenses version moves.
export function revocationSet(load: () => Promise<string[]>) {
  let revoked = new Set<string>();
  return {
    has(jti: string | undefined): boolean {
      return jti !== undefined && revoked.has(jti);
    },
    add(jti: string): void {
      revoked.add(jti);
    },
    async reload(): Promise<void> {
      revoked = new Set(await load());
    },
    get size() {
      return revoked.size;
    },
  };
}
export type RevocationSet = ReturnType<typeof revocationSet>;
