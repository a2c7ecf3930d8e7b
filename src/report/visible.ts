// Text for a terminal from strings the CLI does not control: names, file paths, annotation values,
// condition messages, Event texts, echoed arguments. A terminal obeys control characters, so a value
// holding ESC [ 2 J would clear the screen, OSC 8 would plant a hyperlink, a bidi override would show
// the line in another order than it is. Every human-readable printer in src/cli passes such text,
// one line at a time, through visible().

// C0 (also \t and \n: a table cell or a one-line message must stay one line), DEL, C1, the line and
// paragraph separators, and the bidi marks, embeddings, overrides and isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * The text with each unsafe character written as an escape: `\x1b` below U+0080, `\u009b` above.
 * A backslash is kept as it is: paths and messages stay readable, and the escapes are for eyes, not
 * for parsing back (use --output json for that).
 */
export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
