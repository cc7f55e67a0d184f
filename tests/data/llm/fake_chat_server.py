#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server, for the llm proposer's tests.

usage: fake_chat_server.py REPLIES.json REQUESTS.jsonl

Binds 127.0.0.1 on a free port and prints that port as its first stdout line. Each POST to
/v1/chat/completions is appended to REQUESTS.jsonl as one line, {"path", "headers" (names in lower
case), "body" (the request's JSON)}, and answered with the next reply of REPLIES.json, a list of:

  {"content": "..."}               a chat completion whose message content is that text
  {"status": 500, "body": "..."}   an HTTP error with that body
  {"raw": "..."}                   status 200 with that body as it is (not a chat completion)
  {"raw_hex": "00ff..."}           status 200 with these bytes as the body (not even UTF-8)
  any of them with "delay": S      answered after S seconds (a slow server)

Once the list is used up every request gets HTTP 400, which the proposer does not retry. The server
exits when the process that started it is gone, so a crashed test leaves nothing behind.
"""
import http.server
import json
import os
import sys
import threading
import time


def main():
    replies = json.load(open(sys.argv[1]))
    requests_path = sys.argv[2]
    lock = threading.Lock()
    served = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: the test reads REQUESTS.jsonl instead
            pass

        def send(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                request = json.loads(body)
            except ValueError:
                request = body
            with lock:
                with open(requests_path, "a") as f:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    f.write(json.dumps({"path": self.path, "headers": headers, "body": request}) + "\n")
                index = served[0]
                served[0] += 1
            if self.path != "/v1/chat/completions":
                return self.send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
            if index >= len(replies):
                return self.send(400, json.dumps({"error": {"message": "the fake server has no reply left"}}))
            reply = replies[index]
            time.sleep(reply.get("delay", 0))
            if "status" in reply:
                return self.send(reply["status"], reply.get("body", ""))
            if "raw" in reply:
                return self.send(200, reply["raw"], "text/plain")
            if "raw_hex" in reply:
                return self.send(200, bytes.fromhex(reply["raw_hex"]), "text/plain")
            completion = {
                "id": f"chatcmpl-{index}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "") if isinstance(request, dict) else "",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply["content"]},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            self.send(200, json.dumps(completion))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)

    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
