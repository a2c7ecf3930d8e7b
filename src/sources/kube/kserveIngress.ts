// KServe's ingress settings (ConfigMap inferenceservice-config, key "ingress", in KServe's
// namespace): which hosts an InferenceService answers on, and whether KServe writes Gateway API
// HTTPRoutes or Ingresses. The wake routes copy the hosts and the kind, so a client's URL reaches
// the waker while the service is stopped. Parsing and host rendering are pure.
import { z } from "zod";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../../api/names.ts";

export const KSERVE_CONFIG_MAP = "inferenceservice-config";
export const KSERVE_INGRESS_KEY = "ingress";

/** KServe's own defaults when the ConfigMap or a field is missing (pkg/apis/serving/v1beta1 in KServe). */
export const DEFAULT_INGRESS_DOMAIN = "example.com";
export const DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}";
export const DEFAULT_INGRESS_GATEWAY = "kserve/kserve-ingress-gateway";

export type KServeIngress = {
  ingressDomain: string;
  domainTemplate: string;
  additionalIngressDomains: string[];
  enableGatewayApi: boolean;
  /** "namespace/name" of the Gateway KServe attaches its HTTPRoutes to. */
  gateway: { namespace: string; name: string };
  /** undefined: the cluster's default IngressClass, as KServe does. */
  ingressClassName: string | undefined;
};

export const DEFAULT_KSERVE_INGRESS: KServeIngress = {
  ingressDomain: DEFAULT_INGRESS_DOMAIN,
  domainTemplate: DEFAULT_DOMAIN_TEMPLATE,
  additionalIngressDomains: [],
  enableGatewayApi: false,
  gateway: { namespace: "kserve", name: "kserve-ingress-gateway" },
  ingressClassName: undefined,
};

// A DNS name (DNS_SUBDOMAIN) is what a host rendered from the template must be before it goes into a route.

const RawIngress = z.looseObject({
  ingressDomain: z.string().max(253).optional(),
  domainTemplate: z.string().max(1024).optional(),
  additionalIngressDomains: z.array(z.string().max(253)).max(32).optional(),
  enableGatewayApi: z.boolean().optional(),
  kserveIngressGateway: z.string().max(253).optional(),
  ingressClassName: z.string().max(253).optional(),
});

export type ParsedIngress = { config: KServeIngress; problems: string[] };

/** The "ingress" value of the ConfigMap (JSON); what cannot be read falls back to KServe's defaults, and says so. */
export function parseKServeIngress(text: string | undefined): ParsedIngress {
  if (text === undefined) return { config: DEFAULT_KSERVE_INGRESS, problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      config: DEFAULT_KSERVE_INGRESS,
      problems: [`the ingress key is not JSON: ${err instanceof Error ? err.message : String(err)}`],
    };
  }
  const parsed = RawIngress.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { config: DEFAULT_KSERVE_INGRESS, problems: [`the ingress key: ${first?.path.join(".") ?? ""} ${first?.message ?? "invalid"}`] };
  }
  const raw = parsed.data;
  const problems: string[] = [];
  const domain = (raw.ingressDomain ?? "").toLowerCase() || DEFAULT_INGRESS_DOMAIN;
  if (!DNS_SUBDOMAIN.test(domain)) problems.push(`ingressDomain ${JSON.stringify(domain.slice(0, 80))} is not a DNS name`);
  const template = raw.domainTemplate || DEFAULT_DOMAIN_TEMPLATE;
  const templateProblem = checkTemplate(template);
  if (templateProblem) problems.push(templateProblem);
  const additional = (raw.additionalIngressDomains ?? []).map((d) => d.toLowerCase()).filter((d) => DNS_SUBDOMAIN.test(d));
  const [gwNamespace, gwName] = (raw.kserveIngressGateway || DEFAULT_INGRESS_GATEWAY).split("/");
  let gateway = DEFAULT_KSERVE_INGRESS.gateway;
  if (gwNamespace && gwName && DNS_LABEL.test(gwNamespace) && DNS_SUBDOMAIN.test(gwName))
    gateway = { namespace: gwNamespace, name: gwName };
  else problems.push(`kserveIngressGateway ${JSON.stringify(raw.kserveIngressGateway)} is not "namespace/name"`);
  const className = raw.ingressClassName;
  return {
    config: {
      ingressDomain: DNS_SUBDOMAIN.test(domain) ? domain : DEFAULT_INGRESS_DOMAIN,
      domainTemplate: templateProblem ? DEFAULT_DOMAIN_TEMPLATE : template,
      additionalIngressDomains: additional,
      enableGatewayApi: raw.enableGatewayApi === true,
      gateway,
      ingressClassName: className !== undefined && className !== "" && DNS_SUBDOMAIN.test(className) ? className : undefined,
    },
    problems,
  };
}

// The Go template actions KServe's users put in domainTemplate; anything else (pipelines,
// functions, conditionals) is not rendered here, and the default template is used instead.
const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/g;
const FIELD = /^\.(Name|Namespace|IngressDomain)$/;
const INDEX = /^index\s+\.(Annotations|Labels)\s+"([^"\\]*)"$/;

function checkTemplate(template: string): string | undefined {
  for (const m of template.matchAll(ACTION)) {
    const action = m[1] ?? "";
    if (!FIELD.test(action) && !INDEX.test(action))
      return `domainTemplate action {{ ${action.slice(0, 60)} }} is not supported (only .Name, .Namespace, .IngressDomain and index .Annotations/.Labels "key"); using the default template`;
  }
  return undefined;
}

/** Whether hosts depend on labels or annotations (then a label change can move a service's host). */
export function templateReadsMetadata(config: KServeIngress): boolean {
  return /\.(Annotations|Labels)\b/.test(config.domainTemplate);
}

export type HostSubject = {
  name: string;
  namespace: string;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
};

/**
 * The hosts KServe gives a service: the top-level one and its predictor's (`<name>-predictor`),
 * for the ingress domain and each additional one, lower-cased; names that are no DNS name are left out.
 */
export function serviceHosts(config: KServeIngress, s: HostSubject): string[] {
  const out = new Set<string>();
  for (const domain of [config.ingressDomain, ...config.additionalIngressDomains]) {
    for (const name of [s.name, `${s.name}-predictor`]) {
      const host = render(config.domainTemplate, { ...s, name }, domain).toLowerCase();
      if (DNS_SUBDOMAIN.test(host)) out.add(host);
    }
  }
  return [...out];
}

function render(template: string, s: HostSubject, domain: string): string {
  return template.replace(ACTION, (_all, action: string) => {
    const field = FIELD.exec(action)?.[1];
    if (field === "Name") return s.name;
    if (field === "Namespace") return s.namespace;
    if (field === "IngressDomain") return domain;
    const index = INDEX.exec(action);
    if (index) return (index[1] === "Labels" ? s.labels : s.annotations)?.[index[2] ?? ""] ?? "";
    return "";
  });
}

/** A Host header as the waker sends it: port stripped, lower-cased, a trailing dot dropped; undefined when it is no DNS name. */
export function normalizeHost(host: string): string | undefined {
  if (host.length > 300) return undefined;
  let h = host.trim().toLowerCase();
  const colon = h.lastIndexOf(":");
  if (colon >= 0 && /^\d{1,5}$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  if (h.endsWith(".")) h = h.slice(0, -1);
  return DNS_SUBDOMAIN.test(h) ? h : undefined;
}
