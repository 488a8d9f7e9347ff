#!/usr/bin/env python3
"""Two headless Chromium tabs on the demo chat page served by websocket-gateway (/demo/chat), which uses
the browser SDK (/sdk/portico-ws.js): each must see the other's messages. Run by the Swift test
WebSocketBrowserTests with the gateway's base URL; exits 0 when both directions work, 1 otherwise.

Usage: chat_browser_test.py http://127.0.0.1:PORT
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def open_chat(driver, base, name, room):
    driver.get(f"{base}/demo/chat?name={name}&room={room}")
    WebDriverWait(driver, 15).until(conditions.text_to_be_present_in_element((By.ID, "status"), "joined"))


def say(driver, text):
    field = driver.find_element(By.ID, "text")
    field.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "#form button").click()


def sees(driver, text):
    WebDriverWait(driver, 15).until(
        lambda d: any(text in item.text for item in d.find_elements(By.CSS_SELECTOR, "#messages li")))


def main():
    base = sys.argv[1]
    room = f"browser{int(time.time() * 1000)}"
    alice, bob = browser(), browser()
    try:
        open_chat(alice, base, "alice", room)
        open_chat(bob, base, "bob", room)
        say(alice, "hello from alice")
        sees(bob, "alice: hello from alice")
        sees(alice, "alice: hello from alice")
        say(bob, "hi alice")
        sees(alice, "bob: hi alice")
        # Presence: both tabs count two members once they have refreshed it.
        WebDriverWait(alice, 15).until(lambda d: d.find_element(By.ID, "members").text == "2")
        print("ok: two browsers exchanged messages through /demo/chat")
        return 0
    except Exception as error:  # noqa: BLE001 - report anything as a failure with the page state
        print(f"failed: {error!r}")
        for name, driver in (("alice", alice), ("bob", bob)):
            try:
                print(f"--- {name}: status={driver.find_element(By.ID, 'status').text!r}")
                print("\n".join(item.text for item in driver.find_elements(By.CSS_SELECTOR, "#messages li")))
                for entry in driver.get_log("browser"):
                    print(entry)
            except Exception:  # noqa: BLE001
                pass
        return 1
    finally:
        alice.quit()
        bob.quit()


if __name__ == "__main__":
    sys.exit(main())
