"""Helpers shared by the API tests: the error bodies and list walking."""

INVALID = "The request has invalid fields; see details."
NOT_FOUND = {"code": "not_found", "message": "Not found.", "details": {}}


def invalid(details: dict) -> dict:
    """The body of a 400 with these field errors."""
    return {"code": "invalid", "message": INVALID, "details": details}


def listed_ids(client, url, params=None) -> list[int]:
    response = client.get(url, params or {})
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def walk(client, url, params) -> tuple[list[int], list[int]]:
    """Follow `next` links from the first page; return the ids in order and the size of each page."""
    response = client.get(url, params)
    ids, sizes = [], []
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        ids += [row["id"] for row in body["results"]]
        sizes.append(len(body["results"]))
        if body["next"] is None:
            return ids, sizes
        response = client.get(body["next"])
