#!/usr/bin/env python3
"""A slow link in front of a PostgreSQL Unix socket, to count round trips in time.

    scripts/slow_link.py PORT SOCKET_FILE DELAY_MS

listens on 127.0.0.1:PORT and forwards each connection to SOCKET_FILE (for the embedded
instance, `<data dir>/socket/.s.PGSQL.5432`), holding every chunk DELAY_MS before passing
it on, in each direction: a round trip costs at least twice DELAY_MS, as to a database
across a network. Then, for example:

    stackctl --database-url 'postgresql://stackctl@127.0.0.1:PORT/stackctl?sslmode=disable' user list

Only for measuring; it adds the event loop's own latency too, the same for every client.
"""
import asyncio
import sys


async def pump(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def main(port, socket_file, delay):
    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_unix_connection(socket_file)
        await asyncio.gather(pump(client_reader, server_writer, delay),
                             pump(server_reader, client_writer, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) / 1000))
