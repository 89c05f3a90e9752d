from tests.conftest import PASSWORD, csrf_token


def test_login_page_is_chinese(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "登录联防平台" in response.get_data(as_text=True)


def test_login_with_form_reaches_home(client, make_user):
    make_user("smoke_user", code="511000", display_name="烟雾测试")
    token = csrf_token(client)
    response = client.post("/login", data={"csrf_token": token, "username": "smoke_user", "password": PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert "您好，烟雾测试" in home.get_data(as_text=True)
