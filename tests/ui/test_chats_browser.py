"""Saved conversations on the chat page in a real browser (Debian's chromium, headless), with two
accounts from a users file: ann's answers are saved to the sidebar list; "New conversation" starts
another; picking the first reopens it with its answer and its sources; rename and search work; a reload
reopens the open one; signing out and in as bob on the same browser shows none of ann's chats; bob
deletes his."""
import os
import re
from pathlib import Path

import pytest
from apiserver import PEOPLE, open_rag, serve, write_corpus
from conftest import launch_chromium

pytestmark = pytest.mark.browser
ANN, BOB = ("ann", "ann-password-1"), ("bob", "bob-password-1")
SHOTS = os.environ.get("RAG_SCREENSHOTS")   # a folder: the sidebar's screenshots are saved there


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from rag.users import Users
    from rag_ui.gate import Accounts

    base = tmp_path_factory.mktemp("chatsbrowser")
    write_corpus(base / "corpus")
    rag = open_rag(base / "corpus", base / "idx")
    users = Users(base / "users.json")
    users.add(*ANN)
    users.add(*BOB)
    with serve(rag, Accounts(users=users)) as url:
        yield url


def sign_in(page, url, who):
    page.goto(url + "/")
    page.fill("input[type=text]", who[0])
    page.fill("input[type=password]", who[1])
    page.keyboard.press("Enter")
    page.wait_for_selector("#question textarea", timeout=30000)


def ask(page, question, expect):
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function("(want) => [...document.querySelectorAll('#chat .message.bot')]"
                           ".some(m => m.innerText.includes(want))", arg=expect, timeout=30000)


def listed(page) -> list[str]:
    return [t.strip() for t in page.locator("#chat-list label").all_inner_texts()]


def wait_listed(page, predicate_js, timeout=30000):
    try:
        page.wait_for_function(f"() => {{ const l = [...document.querySelectorAll('#chat-list label')]"
                               f".map(x => x.innerText.trim()); return {predicate_js}; }}", timeout=timeout)
    except Exception:
        raise AssertionError(f"the list is {listed(page)}, expected {predicate_js}") from None


def title_box(page):
    return page.locator("#chat-title input, #chat-title textarea").first


def test_two_accounts_keep_their_own_saved_chats(site):
    from playwright.sync_api import sync_playwright

    url = site
    p0, p3 = PEOPLE[0], PEOPLE[3]
    q0 = f"When did {p0[0]} found the {p0[1]} observatory?"
    q3 = f"When did {p3[0]} found the {p3[1]} observatory?"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("dialog", lambda d: d.accept())
            sign_in(page, url, ANN)
            ask(page, q0, str(p0[3]))
            wait_listed(page, f"l.length === 1 && l[0].startsWith('When did {p0[0]}')")
            page.click("#chat-new")
            page.wait_for_function("() => !document.querySelector('#chat .message.bot')")
            ask(page, q3, str(p3[3]))
            wait_listed(page, "l.length === 2")
            assert listed(page)[0].startswith(f"When did {p3[0]}")   # the most recent first
            # reopen the first: its answer and its sources come back
            page.locator("#chat-list label", has_text=p0[0]).click()
            page.wait_for_function("(want) => [...document.querySelectorAll('#chat .message.bot')]"
                                   ".some(m => m.innerText.includes(want))", arg=str(p0[3]), timeout=30000)
            page.wait_for_function("(want) => document.querySelector('#sources').innerText.includes(want)",
                                   arg=f"The {p0[1]} observatory", timeout=30000)
            assert str(p3[3]) not in page.inner_text("#chat")
            # rename it, find it by a word of its answer, not by another's
            title_box(page).fill(f"{p0[1]} notes")
            page.click("#chat-rename")
            wait_listed(page, f"l.includes('{p0[1]} notes')")
            page.locator("#chat-search input, #chat-search textarea").first.fill(p3[1])
            wait_listed(page, f"l.length === 1 && l[0].startsWith('When did {p3[0]}')")
            page.locator("#chat-search input, #chat-search textarea").first.fill("")
            wait_listed(page, "l.length === 2")
            # a reload reopens the open conversation, with its sources
            page.reload()
            page.wait_for_function("(want) => [...document.querySelectorAll('#chat .message.bot')]"
                                   ".some(m => m.innerText.includes(want))", arg=str(p0[3]), timeout=30000)
            page.wait_for_function("(want) => document.querySelector('#sources').innerText.includes(want)",
                                   arg=f"The {p0[1]} observatory", timeout=30000)
            wait_listed(page, "l.length === 2")
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / "saved-chats.png"))
            # on a phone the sidebar starts closed: the question box is on the first screen
            phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            sign_in(phone, url, ANN)
            phone.wait_for_timeout(1000)
            box = phone.locator("#question textarea").bounding_box()
            assert box["y"] + box["height"] <= 844 and box["x"] >= 0
            assert not phone.locator("#chats").evaluate("e => e.classList.contains('open')")
            phone.locator("#chats .toggle-button").click()   # opened by hand: the same list
            phone.wait_for_function("() => document.querySelectorAll('#chat-list label').length === 2")
            if SHOTS:
                phone.wait_for_timeout(1000)   # the sidebar's opening transition
                phone.screenshot(path=str(Path(SHOTS) / "saved-chats-phone.png"))
            phone.locator("#chat-list label", has_text=p3[0]).click()   # picking one closes it: the chat shows
            phone.wait_for_function("(want) => [...document.querySelectorAll('#chat .message.bot')]"
                                    ".some(m => m.innerText.includes(want))", arg=str(p3[3]), timeout=30000)
            phone.wait_for_function("() => !document.querySelector('#chats').classList.contains('open')")
            phone.close()
            assert page.locator("#chats").evaluate("e => e.classList.contains('open')")   # open on a wide screen
            # bob, on the same browser after ann signs out: none of ann's chats, not even the open one
            page.goto(url + "/logout")
            sign_in(page, url, BOB)
            page.wait_for_timeout(1500)   # let the load events run
            wait_listed(page, "l.length === 0")
            body = page.inner_text("body")
            assert p0[0] not in body and p3[0] not in body and "notes" not in body
            ask(page, f"Who founded the {PEOPLE[5][1]} observatory?", PEOPLE[5][0])
            wait_listed(page, f"l.length === 1 && l[0].includes('{PEOPLE[5][1]}')")
            page.click("#chat-delete")   # confirmed by the dialog handler
            wait_listed(page, "l.length === 0")
            assert not page.query_selector("#chat .message.bot")
            # ann's are all still there
            page.goto(url + "/logout")
            sign_in(page, url, ANN)
            wait_listed(page, "l.length === 2")
            assert f"{p0[1]} notes" in listed(page)
            assert not any(re.search(PEOPLE[5][1], t) for t in listed(page))
        finally:
            browser.close()
