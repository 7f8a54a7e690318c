# This file is part of the water utility modules.
import os

from werkzeug.utils import redirect, send_from_directory

from trytond.protocols.wrappers import with_transaction
from trytond.wsgi import app

from .portal import PREFIX, company, portal, render

STATIC = os.path.join(os.path.dirname(__file__), 'static')


@app.route(PREFIX, methods={'GET'})
def portal_root(request):
    return redirect(PREFIX + '/', code=301)


@app.route(PREFIX + '/', methods={'GET'})
@portal
@with_transaction()
def home(request, pool):
    return render('home.html', company=company(pool))


@app.route(PREFIX + '/static/water/<path:filename>', methods={'GET'})
def static(request, filename):
    return send_from_directory(
        STATIC, filename, request.environ, max_age=43200)
