"""The raw echo: minlambda hands the handler the payload as bytes and sends bytes back as they
are, with no JSON on either side. Run as a script: `python raw_echo.py`."""

import minlambda


def handler(event, context):
    return event


if __name__ == "__main__":
    minlambda.run(handler, raw=True)
