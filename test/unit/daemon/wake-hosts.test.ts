// KServe's ingress settings and the hosts of a service: what the wake routes and the wake API use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_KSERVE_INGRESS, normalizeHost, parseKServeIngress, serviceHosts } from "../../../src/sources/kube/kserveIngress.ts";
import { HostIndex } from "../../../src/daemon/wake.ts";
import { service } from "./harness.ts";

test("missing ConfigMap or key: KServe's defaults (example.com, {{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}, Ingress)", () => {
  const { config, problems } = parseKServeIngress(undefined);
  assert.deepEqual(problems, []);
  assert.equal(config, DEFAULT_KSERVE_INGRESS);
  assert.deepEqual(serviceHosts(config, { name: "llama", namespace: "ml" }), ["llama-ml.example.com", "llama-predictor-ml.example.com"]);
});

test("the ingress key as KServe writes it: domain, template, Gateway API, gateway, class", () => {
  const { config, problems } = parseKServeIngress(
    JSON.stringify({
      ingressGateway: "knative-serving/knative-ingress-gateway",
      ingressDomain: "Models.Corp",
      domainTemplate: "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}",
      additionalIngressDomains: ["alt.corp", "not a domain"],
      enableGatewayApi: true,
      kserveIngressGateway: "gw/kserve-gateway",
      ingressClassName: "nginx",
      urlScheme: "https",
    }),
  );
  assert.deepEqual(problems, []);
  assert.equal(config.enableGatewayApi, true);
  assert.deepEqual(config.gateway, { namespace: "gw", name: "kserve-gateway" });
  assert.equal(config.ingressClassName, "nginx");
  assert.deepEqual(serviceHosts(config, { name: "llama", namespace: "ml" }), [
    "llama.ml.models.corp",
    "llama-predictor.ml.models.corp",
    "llama.ml.alt.corp",
    "llama-predictor.ml.alt.corp",
  ]);
});

test("templates reading labels and annotations; unsupported actions fall back to the default and say so", () => {
  const labelled = parseKServeIngress(JSON.stringify({ domainTemplate: '{{ index .Labels "team" }}-{{ .Name }}.{{ .IngressDomain }}' }));
  assert.deepEqual(serviceHosts(labelled.config, { name: "llama", namespace: "ml", labels: { team: "nlp" } }), [
    "nlp-llama.example.com",
    "nlp-llama-predictor.example.com",
  ]);
  const piped = parseKServeIngress(JSON.stringify({ domainTemplate: "{{ .Name | upper }}.{{ .IngressDomain }}" }));
  assert.equal(piped.config.domainTemplate, DEFAULT_KSERVE_INGRESS.domainTemplate);
  assert.match(piped.problems[0] ?? "", /not supported/);
});

test("hostile ConfigMap values: not JSON, wrong types, huge strings, a bad gateway: defaults, a problem, no throw", () => {
  for (const text of [
    "{",
    "[]",
    "null",
    '{"ingressDomain": 5}',
    JSON.stringify({ ingressDomain: "x".repeat(10_000) }),
    JSON.stringify({ kserveIngressGateway: "no-slash" }),
    JSON.stringify({ ingressDomain: "\u001b[31m" }),
  ]) {
    const { config, problems } = parseKServeIngress(text);
    assert.ok(problems.length > 0, text.slice(0, 40));
    assert.equal(config.ingressDomain, "example.com");
  }
});

test("Host headers: port and trailing dot stripped, lower-cased; non-DNS names are no host", () => {
  assert.equal(normalizeHost("Llama-ML.Example.com:8080"), "llama-ml.example.com");
  assert.equal(normalizeHost("llama-ml.example.com."), "llama-ml.example.com");
  for (const bad of ["", " ", "a b", "\u001b[31m", "x".repeat(400), "[::1]:80", "a..b", "-a.com"])
    assert.equal(normalizeHost(bad), undefined, bad);
});

test("HostIndex: finds a service by any of its hosts; rebuilt when services come and go or the settings change", () => {
  const settings = { current: DEFAULT_KSERVE_INGRESS, version: 0 };
  const list = [service("llama"), service("mistral")];
  const index = new HostIndex(settings, () => list);
  assert.equal(index.lookup("LLAMA-ML.example.com:80"), "ml/llama");
  assert.equal(index.lookup("mistral-predictor-ml.example.com"), "ml/mistral");
  assert.equal(index.lookup("gemma-ml.example.com"), undefined);
  list.push(service("gemma"));
  assert.equal(index.lookup("gemma-ml.example.com"), undefined, "not rebuilt without a change event");
  index.changed("add");
  assert.equal(index.lookup("gemma-ml.example.com"), "ml/gemma");
  settings.current = parseKServeIngress(JSON.stringify({ ingressDomain: "corp.io" })).config;
  settings.version = 1;
  assert.equal(index.lookup("gemma-ml.example.com"), undefined);
  assert.equal(index.lookup("gemma-ml.corp.io"), "ml/gemma");
});

test("HostIndex: a host two services claim (a-b in c, a in b-c: both a-b-c.example.com) wakes neither", () => {
  const settings = { current: DEFAULT_KSERVE_INGRESS, version: 0 };
  const inNamespace = (name: string, namespace: string) => {
    const s = service(name);
    return { ...s, metadata: { ...s.metadata, namespace } };
  };
  const list = [inNamespace("a-b", "c"), inNamespace("a", "b-c"), inNamespace("solo", "c")];
  const index = new HostIndex(settings, () => list);
  assert.equal(index.lookup("a-b-c.example.com"), undefined, "ambiguous: no service");
  assert.equal(index.lookup("solo-c.example.com"), "c/solo");
  // their predictor hosts differ (a-b-predictor-c, a-predictor-b-c): each still its own
  assert.equal(index.lookup("a-b-predictor-c.example.com"), "c/a-b");
  assert.equal(index.lookup("a-predictor-b-c.example.com"), "b-c/a");
  list.splice(1, 1);
  index.changed("delete");
  assert.equal(index.lookup("a-b-c.example.com"), "c/a-b", "unambiguous again once the other is gone");
});
