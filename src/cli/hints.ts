// What to do next, in this CLI's words, after the server refused: the API
// names its body fields (allowDowngrade, expectedCurrent), a CLI user needs
// the flag or the command. Printed as a "hint:" line after the error.

const HINTS: Record<string, string> = {
  DOWNGRADE_REFUSED: "to move the channel to a lower release anyway pass --allow-downgrade, or go back to an earlier release with chartroom rollback CHANNEL --reason TEXT",
  RELEASE_EXISTS: "releases are immutable: give the file a new version (chartroom release lint FILE checks it)",
  LICENSE_ALREADY_REVOKED: "chartroom license list shows when and why",
};

/** A hint for the server's `code`, or undefined. */
export function hintFor(code: string): string | undefined {
  return HINTS[code];
}

/** The API's field names in a server message, as this CLI's flags ("set allowDowngrade" → "pass --allow-downgrade"). */
export function inCliWords(message: string): string {
  return message.replace(/\bset allowDowngrade\b/g, "pass --allow-downgrade").replace(/\ballowDowngrade\b/g, "--allow-downgrade");
}
