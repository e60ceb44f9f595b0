// KMS serializes complex types (IceCandidate, Tag, ElementConnectionData, ServerInfo ...) with
// `__module__` and `__type__`; kurento-client uses them to rebuild typed values. Types of the
// core, elements and filters modules all say "kurento".

export function complexType<T extends Record<string, unknown>>(type: string, fields: T): T & { __module__: 'kurento'; __type__: string } {
  return { __module__: 'kurento', __type__: type, ...fields };
}
