'use strict'
// Benchmark queue plugin: the message (as received, with Haraka's added headers) is written to one new
// file per message in durable_file.ini [main] dir, fsync()ed and closed before the 250 (next(OK)).
// A failure answers 451 (DENYSOFT) so a message is never acknowledged without being on disk.

const fs = require('node:fs')
const path = require('node:path')

exports.register = function () {
    const cfg = this.config.get('durable_file.ini')
    this.dir = (cfg.main && cfg.main.dir) || '/tmp/haraka-durable'
    fs.mkdirSync(this.dir, { recursive: true })
}

exports.hook_queue = function (next, connection) {
    const txn = connection.transaction
    const file = path.join(this.dir, `${txn.uuid}.eml`)
    let done = false
    const finish = (err) => {
        if (done) return
        done = true
        if (err) {
            connection.logerror(this, `${file}: ${err.message}`)
            return next(DENYSOFT, 'write failed')
        }
        next(OK, `queued as ${txn.uuid}`)
    }
    fs.open(file, 'wx', 0o640, (err, fd) => {
        if (err) return finish(err)
        const ws = fs.createWriteStream(null, { fd, autoClose: false })
        ws.on('error', (e) => fs.close(fd, () => finish(e)))
        ws.on('finish', () => {
            fs.fsync(fd, (e) => {
                fs.close(fd, (e2) => finish(e || e2))
            })
        })
        txn.message_stream.pipe(ws)
    })
}
