// The 11-point power curve as users write it, in the extender's and the agent's configuration alike.
import Type from 'typebox';

/** Watts at 0,10,…,100 % load: exactly 11 non-negative numbers. */
export const PowerCurveSchema = Type.Array(Type.Number({ minimum: 0 }), { minItems: 11, maxItems: 11 });
