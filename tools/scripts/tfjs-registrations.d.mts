/** The deep tfjs-core imports that @laion/vq's src/tfjs.ts makes and the bundle stands for. */
export declare const TFJS_REGISTRATIONS: RegExp;
/** Path of the bundle that registers tfjs-core's gradients and chained ops (built if missing). */
export declare function tfjsRegistrationsBundle(): string;
