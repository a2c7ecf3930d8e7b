// Listen addresses, one syntax for every server of the daemon and the waker: "host:port", ":port"
// (all interfaces) or "[v6]:port". Port 0 asks the kernel for a free port (the tests use it).
export type ListenAddress = { readonly host: string; readonly port: number };

/** The address, or why the text is not one (without the flag's name: the caller knows it). */
export function parseListenAddress(text: string): ListenAddress | string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*):(\d+)$/.exec(text);
  if (m === null) return `${JSON.stringify(text)} must be host:port or :port`;
  const digits = m[2] ?? "";
  const port = Number(digits);
  if (digits.length > 5 || port > 65535) return `port ${digits} is not in 0-65535`;
  const host = (m[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "0.0.0.0" : host, port };
}
