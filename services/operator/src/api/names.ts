/**
 * Limits on an OutboxRelay's own name. Its children share the name: a Service name must be a DNS-1035 label, and
 * Deployment pod names append a ~16-character hash and suffix to it, which must still fit in 63 characters.
 */
export const MAX_NAME_LENGTH = 47;
export const NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
