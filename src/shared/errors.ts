// The one table of wattsched error codes. Each is created once here; components throw these and never ad-hoc Errors
// for conditions a user can hit. Messages use %s placeholders filled by the constructor arguments.
import createError from '@fastify/error';

// Configuration (all components)
export const WS_ERR_CONFIG_INVALID = createError('WS_ERR_CONFIG_INVALID', 'invalid configuration:\n%s', 500);
export const WS_ERR_CONFIG_FILE = createError('WS_ERR_CONFIG_FILE', 'cannot read config file %s: %s', 500);
export const WS_ERR_USAGE = createError('WS_ERR_USAGE', '%s', 500);

// Extender wire protocol
export const WS_ERR_BAD_REQUEST = createError('WS_ERR_BAD_REQUEST', '%s', 400);
export const WS_ERR_UNKNOWN_VERB = createError('WS_ERR_UNKNOWN_VERB', 'unknown extender verb %s (serving %s)', 404);
export const WS_ERR_OVERLOADED = createError('WS_ERR_OVERLOADED', 'extender overloaded, retry later: %s', 503);

// Scoring data
export const WS_ERR_POWER_CURVE = createError('WS_ERR_POWER_CURVE', 'invalid power curve %s: %s', 400);

// model
export const WS_ERR_MODEL_DATA = createError('WS_ERR_MODEL_DATA', 'bad training/evaluation data %s: %s', 400);
export const WS_ERR_MODEL_FILE = createError('WS_ERR_MODEL_FILE', 'cannot use model %s: %s', 400);
export const WS_ERR_MODEL_INPUT = createError('WS_ERR_MODEL_INPUT', 'bad model input: %s', 400);
export const WS_ERR_MODEL_NOT_FOUND = createError('WS_ERR_MODEL_NOT_FOUND', 'no model %s', 404);
export const WS_ERR_MODEL_SAMPLES = createError('WS_ERR_MODEL_SAMPLES', 'rejected samples: %s', 400);
export const WS_ERR_MODEL_PROMETHEUS = createError('WS_ERR_MODEL_PROMETHEUS', 'prometheus query failed: %s', 502);
export const WS_ERR_MODEL_LIMIT = createError('WS_ERR_MODEL_LIMIT', 'store limit reached: %s', 409);
export const WS_ERR_MODEL_IDEMPOTENCY = createError('WS_ERR_MODEL_IDEMPOTENCY', 'idempotency key reused: %s', 422);
export const WS_ERR_MODEL_AUTH = createError('WS_ERR_MODEL_AUTH', 'not authorised: %s', 401);
export const WS_ERR_MODEL_SERVER = createError('WS_ERR_MODEL_SERVER', 'model server %s has no usable model for %s: %s', 502);

// agent
export const WS_ERR_AGENT_NO_CGROUPS = createError('WS_ERR_AGENT_NO_CGROUPS', 'no usable cgroup hierarchy: %s', 500);
export const WS_ERR_AGENT_EBPF_UNAVAILABLE = createError('WS_ERR_AGENT_EBPF_UNAVAILABLE', 'collector=ebpf but eBPF is unavailable: %s', 500);
export const WS_ERR_AGENT_KUBERNETES = createError('WS_ERR_AGENT_KUBERNETES', 'kubernetes.mode=required but %s', 500);

// sim
export const WS_ERR_SIM_INPUT = createError('WS_ERR_SIM_INPUT', 'bad simulation input %s: %s', 400);
