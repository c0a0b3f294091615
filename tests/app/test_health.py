"""``/healthz``: no authentication, 200 with PostGIS up, 503 with the reason when down."""

from tests.conftest import make_app


def test_health_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["postgis"].split(".")[0] == "3"


def test_health_reports_database_down():
    # Nothing listens on port 1: the database is "down" for this app.
    down = make_app("postgresql+psycopg2://nobody:secret@127.0.0.1:1/none")
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"] == "error"
    assert "127.0.0.1" in body["reason"] and "secret" not in body["reason"]
