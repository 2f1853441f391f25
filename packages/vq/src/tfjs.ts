// TensorFlow.js as this package uses it: @tensorflow/tfjs-core (ops, tf.train optimizers) plus the
// backends, instead of the whole @tensorflow/tfjs, which adds layers, converter, data and webgl
// (~140 MB installed) that nothing here uses. Core alone registers neither the gradients nor the
// chained tensor methods (x.toFloat()): the @tensorflow/tfjs bundle did both, so they are registered
// here. Their files are ESM with extensionless imports that Node cannot load from node_modules, so
// the build bundles them (tsup `noExternal`, ~370 kB) and vitest inlines them; the registries they
// fill are global, shared with the tfjs-core Node loads. Every file of this package takes `tf` from
// here, so no op runs before its gradient is registered.
//
// tfjs-core itself is evaluated first: the first copy to load creates the global engine, and it
// must be the one whose tensors have their methods (clone, …) wired up, not the registration files'.
import "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
// The plain-JS backend registers itself on import: it is the last link of the backend chain and the
// reference the other backends are tested against.
import "@tensorflow/tfjs-backend-cpu";

export * from "@tensorflow/tfjs-core";
