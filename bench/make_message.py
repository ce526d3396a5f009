#!/usr/bin/env python3
"""make_message - a realistic message for the bench: about 25 header lines
(a Received chain, DKIM-Signature, ARC-*, List-*, Message-ID, MIME headers)
and a text body, SIZE bytes in all (default 4096), lines ending in LF (as
smtp-source -F wants them; it sends CRLF).

Usage: make_message.py [SIZE] > FILE
"""
import sys

HEADERS = """\
Return-Path: <bench@sender.test>
Received: from mx2.lists.example (mx2.lists.example [192.0.2.25])
	by mx.sender.test (Postfix) with ESMTPS id 4Xb7Qm2kLzz9sWq
	for <rcpt@bench.example>; Wed, 02 Dec 2026 14:03:11 +0000 (UTC)
Received: from list-handler.lists.example (localhost [127.0.0.1])
	by mx2.lists.example (Postfix) with ESMTP id 8C2F1A0042
	for <rcpt@bench.example>; Wed, 02 Dec 2026 14:03:10 +0000 (UTC)
Received: from smtp.origin.example (smtp.origin.example [198.51.100.7])
	by mx2.lists.example (Postfix) with ESMTPS id 4F1E2A0031;
	Wed, 02 Dec 2026 14:03:09 +0000 (UTC)
ARC-Seal: i=1; a=rsa-sha256; t=1796220189; cv=none; d=lists.example; s=arc-2026;
	b=Vn3kWfQ0Hk9eJc2mR5zqX1pLs7aT4uYb8dGf6hNw0iKo3rEv+MjC2xZyQ5tB9sUl1
	 aP7mD4nK0wHq8eR3vT6yXc1jL9fS2gN5bZ0uI4oE7kW3rM8tQ1hY6pV9xA2cF5dJ0sB
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example;
	s=arc-2026; t=1796220189; h=from:to:subject:date:message-id:list-id;
	bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=kQ2pZ7rT1vX9mB4nC6dF8hJ0lL3sW5yA7eG9iK1oM3qP5uR7tV9xZ1bD3fH5jN7pQ9
ARC-Authentication-Results: i=1; mx2.lists.example;
	dkim=pass header.d=origin.example header.s=s2026 header.b=Vn3kWfQ0;
	spf=pass smtp.mailfrom=origin.example; dmarc=pass header.from=origin.example
Authentication-Results: mx.sender.test; dkim=pass header.d=lists.example;
	arc=pass (i=1); spf=pass smtp.mailfrom=lists.example
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=origin.example;
	s=s2026; t=1796220189; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;
	b=Vn3kWfQ0Hk9eJc2mR5zqX1pLs7aT4uYb8dGf6hNw0iKo3rEv+MjC2xZyQ5tB9sUl1aP7
	 mD4nK0wHq8eR3vT6yXc1jL9fS2gN5bZ0uI4oE7kW3rM8tQ1hY6pV9xA2cF5dJ0sB7kQ
From: Origin Sender <bench@sender.test>
To: Bench Recipient <rcpt@bench.example>
Subject: [bench-list] Quarterly figures for the relay benchmark
Date: Wed, 02 Dec 2026 14:03:08 +0000
Message-ID: <20261202140308.4F1E2A0031@smtp.origin.example>
In-Reply-To: <20261201091500.77AB2C0012@smtp.origin.example>
References: <20261201091500.77AB2C0012@smtp.origin.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"; format=flowed
Content-Transfer-Encoding: 8bit
List-Id: Bench discussion <bench-list.lists.example>
List-Unsubscribe: <mailto:bench-list-leave@lists.example>,
	<https://lists.example/unsubscribe/bench-list>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
List-Archive: <https://lists.example/archive/bench-list/>
List-Post: <mailto:bench-list@lists.example>
List-Help: <mailto:bench-list-request@lists.example?subject=help>
Precedence: list
X-Mailer: bench/make_message.py
"""


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    head = HEADERS
    # smtp-source sends each LF as CRLF: count the bytes on the wire.
    def wire(s):
        return len(s.encode()) + s.count("\n")
    body = []
    line = "The quick brown fox jumps over the lazy dog; figures follow below. " * 2
    total = wire(head) + 2
    i = 0
    while total < size:
        text = ("%03d " % i + line)[:76]
        if total + len(text) + 2 > size:
            text = text[: max(0, size - total - 2)]
        body.append(text)
        total += len(text) + 2
        i += 1
    sys.stdout.write(head + "\n" + "\n".join(body) + "\n")


if __name__ == "__main__":
    main()
