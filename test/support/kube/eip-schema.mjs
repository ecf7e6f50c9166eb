// The openAPIV3Schema of OpenELB's Eip CRD (network.kubesphere.io/v1alpha2, as in OpenELB's Helm chart):
// the stand-in prunes and validates Eip objects against it like apiextensions-apiserver does.

/** Structural schema of `eips.network.kubesphere.io` v1alpha2. */
export const EIP_SCHEMA = Object.freeze({
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['address'],
      properties: {
        address: { type: 'string' },
        disable: { type: 'boolean' },
        interface: { type: 'string' },
        namespaceSelector: { type: 'object', additionalProperties: { type: 'string' } },
        namespaces: { type: 'array', items: { type: 'string' } },
        priority: { type: 'integer' },
        protocol: { type: 'string', enum: ['bgp', 'layer2', 'vip'] },
        usingKnownIPs: { type: 'boolean' },
      },
    },
    status: {
      type: 'object',
      properties: {
        firstIP: { type: 'string' },
        lastIP: { type: 'string' },
        occupied: { type: 'boolean' },
        poolSize: { type: 'integer' },
        ready: { type: 'boolean' },
        usage: { type: 'integer' },
        used: { type: 'object', additionalProperties: { type: 'string' } },
        v4: { type: 'boolean' },
      },
    },
  },
});
