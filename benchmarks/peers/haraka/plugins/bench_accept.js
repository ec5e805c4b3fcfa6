'use strict'
// Benchmark plugin: no reverse DNS for the client (Haraka core would call dns.reverse otherwise) and
// every recipient is accepted. Nothing else.

exports.hook_lookup_rdns = function (next, connection) {
    next(OK, 'localhost')
}

exports.hook_rcpt = function (next, connection, params) {
    next(OK)
}
