/**
 * Registers convolution-gradient kernels for the wasm and cpu backends (filled in by the kernels work, issue 3).
 * Until then the backends' own kernels run.
 */
export function registerFastConvGradients(_backend: 'wasm' | 'cpu' | string): void {}
