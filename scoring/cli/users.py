"""`leadcal users`: the people who may sign in to a shared app, and their roles.

Passwords are asked for at the terminal (twice) or read from standard input with
``--password-stdin`` (for scripts); only their scrypt hash is written.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ..access.auth import ROLES, AuthError, load_users, save_user, users_path


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.login}: ")
    if getpass.getpass("again: ") != first:
        raise AuthError("the two passwords differ; nothing written")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    path = args.file or users_path()
    if args.action == "add":
        if not args.login or not args.role:
            raise AuthError("`leadcal users add LOGIN --role ROLE` needs a login name and a role")
        user = save_user(path, args.login, args.role, _password(args), name=args.name)
        print(f"{path}: {user.login} ({user.name}) can sign in as {user.role}")
        return 0
    for user in load_users(path).values():
        print(f"{user.login}\t{user.role}\t{user.name}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `users`."""
    p = sub.add_parser("users", help="people who may sign in to a shared app, and their roles")
    p.add_argument("action", choices=("add", "list"))
    p.add_argument("login", nargs="?", help="login name (add)")
    p.add_argument("--role", choices=ROLES, help="what the person may do: sales, marketing, ops or viewer (add)")
    p.add_argument("--name", help="full name shown and recorded as author and signer (default: the login)")
    p.add_argument("--file", help="users file (default: $LEADCAL_USERS or data/users.yaml)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_users)
