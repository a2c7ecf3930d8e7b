// The status stand-ins of the local control plane write only what a gateway controller or Knative's
// networking layer would write, only for objects that are theirs, and only when it is not already
// there (a stand-in that rewrote status every 250 ms would bump resourceVersions and wake every
// controller watching them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { httpRouteStatus, kingressStatus, type GatewayRef, type HttpRoute, type KIngress } from "../../cluster/status-stand-in.ts";

const gateway: GatewayRef = { namespace: "kserve", name: "kserve-ingress-gateway", controllerName: "reclaimer.dev/test" };
const now = new Date("2026-11-30T19:00:00.123Z");
const ourRef = { group: "gateway.networking.k8s.io", kind: "Gateway", name: "kserve-ingress-gateway", namespace: "kserve" };

function route(over: Partial<HttpRoute> = {}, generation = 1): HttpRoute {
  return { metadata: { name: "llama", namespace: "ml", generation }, spec: { parentRefs: [ourRef] }, ...over };
}

test("a route attached to the test Gateway is marked Accepted and ResolvedRefs at its generation", () => {
  const status = httpRouteStatus(route({}, 3), gateway, now);
  assert.equal(status?.parents?.length, 1);
  const parent = status?.parents?.[0];
  assert.deepEqual(parent?.parentRef, ourRef);
  assert.equal(parent?.controllerName, "reclaimer.dev/test");
  assert.deepEqual(
    parent?.conditions?.map((c) => [c.type, c.status, c.observedGeneration, c.lastTransitionTime]),
    [
      ["Accepted", "True", 3, "2026-11-30T19:00:00Z"],
      ["ResolvedRefs", "True", 3, "2026-11-30T19:00:00Z"],
    ],
  );
});

test("a route already marked at its generation is left alone; a new generation is marked again", () => {
  const marked = route({}, 2);
  marked.status = httpRouteStatus(marked, gateway, now);
  assert.equal(httpRouteStatus(marked, gateway, now), undefined);
  marked.metadata = { ...marked.metadata, generation: 3 };
  assert.equal(httpRouteStatus(marked, gateway, now)?.parents?.[0]?.conditions?.[0]?.observedGeneration, 3);
});

test("routes not attached to the test Gateway are not this stand-in's business", () => {
  const others = [
    { ...ourRef, name: "other-gateway" },
    { ...ourRef, namespace: "istio-system" },
    { ...ourRef, kind: "Service" },
    { ...ourRef, group: "example.com" },
  ];
  for (const ref of others) assert.equal(httpRouteStatus(route({ spec: { parentRefs: [ref] } }), gateway, now), undefined);
  assert.equal(httpRouteStatus(route({ spec: { parentRefs: [] } }), gateway, now), undefined);
  assert.equal(httpRouteStatus(route({ spec: {} }), gateway, now), undefined);
});

test("a parentRef without namespace or group means the route's namespace and the Gateway API group", () => {
  const bare = { name: "kserve-ingress-gateway" };
  assert.equal(httpRouteStatus(route({ spec: { parentRefs: [bare] } }), gateway, now), undefined, "route in ml, Gateway in kserve");
  const inKserve: HttpRoute = { metadata: { name: "r", namespace: "kserve", generation: 1 }, spec: { parentRefs: [bare] } };
  assert.equal(httpRouteStatus(inKserve, gateway, now)?.parents?.length, 1);
});

test("other controllers' parent entries are kept", () => {
  const foreign = { parentRef: { name: "other" }, controllerName: "istio.io/gateway-controller", conditions: [] };
  const status = httpRouteStatus(route({ status: { parents: [foreign] } }), gateway, now);
  assert.deepEqual(status?.parents?.[0], foreign);
  assert.equal(status?.parents?.length, 2);
});

test("objects with missing or odd fields do not crash the route rule", () => {
  for (const odd of [{}, { metadata: {} }, { spec: { parentRefs: [ourRef] } }, { status: {} }] as HttpRoute[]) {
    assert.doesNotThrow(() => httpRouteStatus(odd, gateway, now));
  }
  // no namespace on the route: a bare parentRef cannot resolve to the Gateway's namespace
  assert.equal(httpRouteStatus({ spec: { parentRefs: [{ name: "kserve-ingress-gateway" }] } }, gateway, now), undefined);
});

function kingress(generation: number, status?: KIngress["status"]): KIngress {
  return { metadata: { name: "llama-predictor", namespace: "ml", generation }, spec: {}, status };
}

test("a KIngress is marked Ready with load balancer addresses at its generation", () => {
  const status = kingressStatus(kingress(4), now) as {
    observedGeneration: number;
    conditions: { type: string; status: string }[];
    privateLoadBalancer: { ingress: { domainInternal: string }[] };
    publicLoadBalancer: unknown;
  };
  assert.equal(status.observedGeneration, 4);
  assert.deepEqual(
    status.conditions.map((c) => `${c.type}=${c.status}`),
    ["LoadBalancerReady=True", "NetworkConfigured=True", "Ready=True"],
  );
  assert.match(status.privateLoadBalancer.ingress[0]?.domainInternal ?? "", /\.svc\.cluster\.local$/);
  assert.deepEqual(status.publicLoadBalancer, status.privateLoadBalancer);
});

test("a KIngress Ready at its generation is left alone; at an older generation or not Ready it is marked", () => {
  const ready = kingress(2);
  ready.status = kingressStatus(ready, now) as KIngress["status"];
  assert.equal(kingressStatus(ready, now), undefined);
  assert.notEqual(kingressStatus({ ...ready, metadata: { ...ready.metadata, generation: 3 } }, now), undefined);
  const notReady = kingress(2, {
    observedGeneration: 2,
    conditions: [
      { type: "LoadBalancerReady", status: "True" },
      { type: "NetworkConfigured", status: "True" },
      { type: "Ready", status: "Unknown" },
    ],
  });
  assert.notEqual(kingressStatus(notReady, now), undefined);
  assert.doesNotThrow(() => kingressStatus({}, now));
});
