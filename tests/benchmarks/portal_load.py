#!/usr/bin/env python3
"""Load of the customer portal: concurrent logged-in subscribers of the
demo browse their dashboard (cards, water-sales history, chart), the list
of their bills, their latest bill and a bill by its address.

Prints p50/p95/p99 of each page and the requests per second. It starts
nothing: point it at a server serving a database built by
`water setup --demo` (2,000 generated subscribers, numbers 10001 on, each
with the portal password water-demo), e.g.

    .venv/bin/python tests/benchmarks/portal_load.py http://localhost:8104 \\
        --users 20 --duration 60

tests/benchmarks/portal_load.sh does what the README reports: builds the
demo on PostgreSQL if needed, serves it with gunicorn (a worker per core)
and runs this script without pause and with --think 2.

Each user is a thread with its own keep-alive connection and session
cookie, and asks for the next page as soon as the previous one came
(--think adds a pause). Every answer is checked: a page that is not a 200
with the subscriber's own number counts as an error."""
import argparse
import http.client
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse

PAGES = ['dashboard', 'bills', 'latest bill', 'bill']
FIRST_GENERATED = 10001


class Failure(Exception):
    pass


class User:
    "One subscriber of the portal with his own connection and session"

    def __init__(self, url, number, password):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.number = number
        self.password = password
        self.cookies = {}
        self.connection = None

    def request(self, method, path, body=None):
        "Return status, headers and body of one request on the connection"
        headers = {'Host': f'{self.host}:{self.port}'}
        if self.cookies:
            headers['Cookie'] = '; '.join(
                f'{k}={v}' for k, v in self.cookies.items())
        if body is not None:
            body = urllib.parse.urlencode(body).encode()
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
            # the same origin, as a browser sends it
            headers['Origin'] = f'http://{self.host}:{self.port}'
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=60)
            try:
                self.connection.request(method, path, body, headers)
                response = self.connection.getresponse()
                content = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # the server closed a kept-alive connection: once more
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        # cookies are Secure; over http they are kept here by hand
        for header in response.headers.get_all('Set-Cookie') or []:
            name, _, rest = header.partition('=')
            value = rest.split(';', 1)[0]
            if 'expires=thu, 01 jan 1970' in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response.status, response.headers, content.decode('utf-8')

    def log_in(self):
        "Log in and find the subscription and the bills to browse"
        status, _, body = self.request('GET', '/portal/login')
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)
        if status != 200 or not token:
            raise Failure(f"login page: {status}")
        status, headers, _ = self.request('POST', '/portal/login', {
                'csrf_token': token.group(1),
                'identifier': str(self.number),
                'password': self.password,
                })
        if status != 303:
            raise Failure(f"login of {self.number}: {status}")
        status, headers, _ = self.request('GET', '/portal/dashboard')
        location = urllib.parse.urlsplit(headers.get('Location', '')).path
        if status != 303 or '/subscriptions/' not in location:
            raise Failure(f"dashboard of {self.number}: {status}")
        self.paths = {
            'dashboard': location,
            'bills': location + '/bills',
            'latest bill': location + '/bills/latest',
            }
        status, _, body = self.request('GET', self.paths['bills'])
        bills = re.findall(r'href="(/portal/bills/\d+)"', body)
        if status != 200 or not bills:
            raise Failure(f"bills of {self.number}: {status}")
        self.paths['bill'] = bills[0]

    def get(self, page):
        "GET a page, check it is the subscriber's and return the seconds"
        start = time.perf_counter()
        status, _, body = self.request('GET', self.paths[page])
        duration = time.perf_counter() - start
        if status != 200 or self.number_shown not in body:
            raise Failure(f"{page} of {self.number}: {status}")
        return duration

    @property
    def number_shown(self):
        "The subscription number as the pages print it, in Persian digits"
        return str(self.number).translate(str.maketrans(
                '0123456789', '۰۱۲۳۴۵۶۷۸۹'))


def run(url, numbers, password, duration, think):
    "Log the users in, then browse until duration passes; return figures"
    users = [User(url, number, password) for number in numbers]
    timings = {page: [] for page in PAGES}
    errors = []
    lock = threading.Lock()
    state = {}

    def begin():
        "Run once all are logged in, before any browses"
        state['begin'] = time.monotonic()
        state['stop'] = state['begin'] + duration

    barrier = threading.Barrier(len(users) + 1, action=begin)

    def browse(user, seed):
        rng = random.Random(seed)
        try:
            user.log_in()
        except Exception as exception:
            errors.append(f"{exception}")
            barrier.abort()
            return
        barrier.wait()
        while time.monotonic() < state['stop']:
            page = rng.choice(PAGES)
            try:
                seconds = user.get(page)
            except Exception as exception:
                with lock:
                    errors.append(str(exception))
                continue
            with lock:
                timings[page].append(seconds)
            if think:
                time.sleep(rng.uniform(0, 2 * think))

    threads = [threading.Thread(target=browse, args=(user, index))
        for index, user in enumerate(users)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise Failure("login failed: " + "; ".join(errors[:5]))
    logged_in = state['begin'] - start
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - state['begin']
    return timings, errors, elapsed, logged_in


def percentile(values, fraction):
    "The nearest-rank percentile of values"
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1,
            int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def report(timings, errors, elapsed, logged_in, users):
    print(f"{users} users logged in in {logged_in:.1f}s; "
        f"browsing for {elapsed:.0f}s")
    print(f"{'page':<12} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'mean ms':>8}")
    total = 0
    for page in PAGES:
        values = timings[page]
        total += len(values)
        if not values:
            print(f"{page:<12} {0:>8}")
            continue
        print(f"{page:<12} {len(values):>8} "
            f"{percentile(values, .50) * 1000:>8.0f} "
            f"{percentile(values, .95) * 1000:>8.0f} "
            f"{percentile(values, .99) * 1000:>8.0f} "
            f"{statistics.mean(values) * 1000:>8.0f}")
    every = [v for values in timings.values() for v in values]
    if every:
        print(f"{'all':<12} {total:>8} "
            f"{percentile(every, .50) * 1000:>8.0f} "
            f"{percentile(every, .95) * 1000:>8.0f} "
            f"{percentile(every, .99) * 1000:>8.0f} "
            f"{statistics.mean(every) * 1000:>8.0f}")
    print(f"{total / elapsed:.1f} requests/s, {len(errors)} errors")
    for error in sorted(set(errors))[:10]:
        print("  error:", error)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('url', nargs='?', default='http://localhost:8000',
        help="the server (default %(default)s)")
    parser.add_argument('--users', type=int, default=20,
        help="concurrent subscribers (default %(default)s)")
    parser.add_argument('--duration', type=float, default=60,
        help="seconds of browsing after the logins (default %(default)s)")
    parser.add_argument('--think', type=float, default=0,
        help="mean pause in seconds between two pages of a user")
    parser.add_argument('--subscribers', type=int, default=2000,
        help="generated subscribers of the demo to pick the users from "
        "(default %(default)s)")
    parser.add_argument('--password', default='water-demo',
        help="portal password of the generated subscribers")
    parser.add_argument('--seed', type=int, default=1421)
    options = parser.parse_args(argv)
    numbers = random.Random(options.seed).sample(
        range(FIRST_GENERATED, FIRST_GENERATED + options.subscribers),
        options.users)
    try:
        timings, errors, elapsed, logged_in = run(options.url, numbers,
            options.password, options.duration, options.think)
    except (Failure, OSError) as exception:
        print(f"portal_load: {exception}", file=sys.stderr)
        return 1
    report(timings, errors, elapsed, logged_in, options.users)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
