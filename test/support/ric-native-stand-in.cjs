/**
 * Preloaded (node --require) into a child process that runs aws-lambda-ric without its native part.
 *
 * The package's native addon (rapid-client.node, built from aws-lambda-cpp and curl by its preinstall with
 * autotools and node-gyp) is not built here, yet RAPIDClient loads it in its constructor. With
 * AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1=true the client polls /invocation/next over node:http, and streaming
 * responses and init errors never use the addon; only a buffered response (done) and an invocation error (error)
 * do. This stand-in does those two the way the addon does — one blocking POST to the Runtime API — and refuses next(),
 * so a run that silently left the JavaScript client would fail loudly.
 */
'use strict';
const Module = require('node:module');
const { spawnSync } = require('node:child_process');

const POST = `
const http = require('node:http');
const [path, errorType] = process.argv.slice(1);
const body = require('node:fs').readFileSync(0);
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const headers = { 'Content-Type': 'application/json', 'Content-Length': body.length };
if (errorType) headers['Lambda-Runtime-Function-Error-Type'] = errorType;
const req = http.request({ host, port, path, method: 'POST', headers }, (res) => res.resume().on('end', () => process.exit(0)));
req.on('error', () => process.exit(1));
req.end(body);
`;

function postSync(path, body, errorType) {
  spawnSync(process.execPath, ['-e', POST, path, errorType || ''], { input: body, stdio: ['pipe', 'ignore', 'ignore'], timeout: 20_000 });
}

const standIn = {
  next() {
    throw new Error('native next() called: set AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1=true');
  },
  done(id, body) {
    postSync(`/2018-06-01/runtime/invocation/${id}/response`, body);
  },
  error(id, body) {
    let type;
    try {
      type = JSON.parse(body).errorType;
    } catch {
      type = undefined;
    }
    postSync(`/2018-06-01/runtime/invocation/${id}/error`, body, type);
  },
};

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === './rapid-client.node' && parent && /aws-lambda-ric/.test(parent.filename || '')) return standIn;
  return load.call(this, request, parent, isMain);
};
