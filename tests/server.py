"""Start the real trytond server on a fresh database for tests.

Used by the smoke test and the browser tests: `water setup` builds the
database exactly as `make setup` does, then `trytond` serves it on a free
port of 127.0.0.1. SQLite in a temporary folder by default; PostgreSQL
when TRYTOND_DATABASE__URI says so."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
ADMIN_PASSWORD = 'water-admin'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Server:
    "A database set up by `water setup` and served by `trytond`"

    def __init__(self, demo=False, demo_size=20, settings=None):
        "settings: more of the configuration, {section: {option: value}}"
        self.demo = demo
        self.demo_size = demo_size
        self.folder = tempfile.mkdtemp(prefix='water-test-')
        self.database = f'water_test_{os.getpid()}_{int(time.time())}'
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.process = None
        self.config = os.path.join(self.folder, 'trytond.conf')
        with open(self.config, 'w') as fp:
            fp.write(f"""[database]
path = {self.folder}
[web]
listen = 127.0.0.1:{self.port}
root = {os.path.join(ROOT, 'var', 'www')}
[wsgi middleware]
portal = trytond.modules.water_crm.portal.ErrorPages
[water]
database = {self.database}
""")
            for section, values in (settings or {}).items():
                fp.write(f'[{section}]\n')
                for option, value in values.items():
                    fp.write(f'{option} = {value}\n')
        self.password_file = os.path.join(self.folder, 'admin-password')
        with open(self.password_file, 'w') as fp:
            fp.write(ADMIN_PASSWORD + '\n')

    @property
    def env(self):
        # only the database URI passes: tests run before may have left
        # other Tryton settings in the environment
        env = {k: v for k, v in os.environ.items()
            if not k.startswith(('TRYTOND_', 'DB_'))}
        if os.environ.get('TRYTOND_DATABASE__URI'):
            env['TRYTOND_DATABASE__URI'] = os.environ['TRYTOND_DATABASE__URI']
        env['TRYTOND_CONFIG'] = self.config
        return env

    def setup(self):
        "Run `water setup` as `make setup` does and return its duration"
        command = [os.path.join(BIN, 'water'), '-c', self.config,
            '-d', self.database, 'setup',
            '--password-file', self.password_file,
            '--stamp', os.path.join(self.folder, 'stamp')]
        if self.demo:
            command += ['--demo', '--demo-size', str(self.demo_size)]
        start = time.monotonic()
        done = subprocess.run(command, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise RuntimeError(f"water setup failed:\n{done.stdout}")
        return time.monotonic() - start

    def start(self):
        self.log = open(os.path.join(self.folder, 'trytond.log'), 'w')
        self.process = subprocess.Popen(
            [os.path.join(BIN, 'trytond'), '-c', self.config,
                '-d', self.database],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + '/', timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None:
                    raise RuntimeError(self.read_log())
                time.sleep(0.2)
        raise RuntimeError("trytond did not start:\n" + self.read_log())

    def read_log(self):
        with open(os.path.join(self.folder, 'trytond.log')) as fp:
            return fp.read()

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.log.close()
        self.drop()
        if not os.environ.get("KEEP_TEST_SERVER"):
            shutil.rmtree(self.folder, ignore_errors=True)

    def drop(self):
        uri = os.environ.get('TRYTOND_DATABASE__URI', '')
        if uri.startswith('postgresql'):
            import psycopg
            with psycopg.connect(uri.rstrip('/') + '/postgres',
                    autocommit=True) as connection:
                connection.execute(
                    f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def get(self, path, headers=None):
        "GET path; return (status, headers, body as text)"
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return (response.status, response.headers,
                    response.read().decode('utf-8'))
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode('utf-8')

    def rpc(self, method, *params, session=None):
        "Call the JSON-RPC API of the back office as the web client does"
        headers = {'Content-Type': 'application/json'}
        if session:
            token = base64.b64encode(':'.join(
                    ['admin', str(session[0]), session[1]]).encode()).decode()
            headers['Authorization'] = 'Session ' + token
        request = urllib.request.Request(
            f'{self.url}/{self.database}/rpc/',
            data=json.dumps({'id': 1, 'method': method,
                    'params': list(params)}).encode(),
            headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get('error'):
            raise RuntimeError(answer['error'])
        return answer['result']

    def login(self, password=ADMIN_PASSWORD):
        return self.rpc('common.db.login', 'admin',
            {'password': password}, 'fa')
