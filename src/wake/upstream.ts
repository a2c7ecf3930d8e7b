// Where a service's requests go: the --upstream-template with {name} and {namespace} filled in
// from the daemon's answer (DNS labels only, so they cannot change the URL's shape).

const PLACEHOLDER = /\{([^}]*)\}/g;
const KNOWN = new Set(["name", "namespace"]);

/** Problems of a template, empty when it is usable. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER))
    if (!KNOWN.has(m[1] as string)) problems.push(`unknown placeholder {${(m[1] as string).slice(0, 40)}}: only {name} and {namespace}`);
  let url: URL;
  try {
    url = fillTemplate(template, { namespace: "ns", name: "model" });
  } catch {
    return [...problems, "is not a URL"];
  }
  // an all-digit name or namespace is a valid Kubernetes name; as the host's last label it makes the URL invalid
  try {
    fillTemplate(template, { namespace: "0123", name: "4567" });
  } catch {
    problems.push(
      "is not a URL when a name or namespace is all digits (valid in Kubernetes): end the host with a domain, e.g. .svc.cluster.local",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") problems.push("must be an http:// or https:// URL");
  if (url.username !== "" || url.password !== "") problems.push("must not hold a user name or password");
  if (url.search !== "" || url.hash !== "") problems.push("must not have a query or fragment: the client's path and query are appended");
  return problems;
}

export function fillTemplate(template: string, service: { namespace: string; name: string }): URL {
  return new URL(
    template.replace(PLACEHOLDER, (whole, key: string) =>
      key === "name" ? service.name : key === "namespace" ? service.namespace : whole,
    ),
  );
}
