"""ImageUpdateAutomation end to end: a real docker-registry and a real Git remote (git daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcilekit import ConfigurationError, ObjectRef, Request, Result
from reconcilekit.git import CommitAuthor, GitWriter
from reconcilekit.images import (
    AutomationRun,
    CommitMessageTemplate,
    GitCheckout,
    ImagePolicy,
    ImageUpdateAutomation,
    ImageUpdatePolicy,
    NoMatchingTag,
    RegistryClient,
    RegistryUnreachable,
    SemverPolicy,
    UnknownPolicyError,
)
from reconcilekit.testing._fixtures_git import GitDaemon, GitRepoFactory, WorkRepo, run_git
from reconcilekit.testing._fixtures_registry import RegistryServer

pytestmark = pytest.mark.anyio

# Static proof that GitWriter is what the automation needs (checked by mypy).
_git: type[GitCheckout] = GitWriter

DEPLOYMENT = """\
# Managed by image automation: keep the marker comments.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{image}:1.0.0"   # {{"$imagepolicy": "flux-system:web"}}
          args: ["--port", "8080"]
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: web
    newTag: 1.0.0 # {"$imagepolicy": "flux-system:web:tag"}
"""

README = 'not yaml: {image}:1.0.0 # {{"$imagepolicy": "flux-system:web"}}\n'


@pytest.fixture
def writer_dir(tmp_path: Path) -> Path:
    return tmp_path / "checkout"


def _show(repo: WorkRepo, rev: str, path: str) -> str:
    return run_git("--git-dir", str(repo.bare), "show", f"{rev}:{path}", env=repo.env)


def _last(automation: ImageUpdateAutomation) -> AutomationRun:
    run = automation.last_run
    assert run is not None
    return run


def _log(repo: WorkRepo, branch: str = "main") -> list[str]:
    out = run_git("--git-dir", str(repo.bare), "log", "--format=%H", f"refs/heads/{branch}", env=repo.env)
    return out.split()


async def test_automation_commits_only_the_changed_bytes(
    registry_server: RegistryServer, git_daemon: GitDaemon, git_repos: GitRepoFactory, writer_dir: Path
) -> None:
    repo_name = registry_server.unique_repository("web")
    image = f"{registry_server.host}/{repo_name}"
    registry_server.push(repo_name, ["1.0.0", "1.1.0", "2.0.0", "1.2.0-rc.1", "latest"], distinct=False)
    deployment = DEPLOYMENT.format(image=image)
    repo = git_repos.create(
        files={
            "clusters/prod/web.yaml": deployment,
            "clusters/prod/kustomization.yaml": KUSTOMIZATION,
            "clusters/staging/web.yaml": deployment,  # outside the update path: never touched
            "README.md": README.format(image=image),
        }
    )
    initial = _log(repo)
    writer = GitWriter(
        git_daemon.url(repo.name),
        branch="main",
        author=CommitAuthor("Image Bot", "bot@example.test"),
        workdir=writer_dir,
    )
    async with RegistryClient(registry_server.url) as client:
        policy = ImageUpdatePolicy("flux-system:web", image, ImagePolicy(SemverPolicy("^1.0")), client)
        automation = ImageUpdateAutomation(
            writer,
            [policy],
            path="clusters/prod",
            interval=120,
            commit_message="Update images ({count} fields)\n\n{images}\n\n{changes}\n",
        )

        result = await automation.reconcile(Request("web"))
        assert result == Result(requeue_after=120)
        run = automation.last_run
        assert isinstance(run, AutomationRun)
        assert run.images == {"flux-system:web": f"{image}:1.1.0"}
        assert run.commit is not None
        commits = _log(repo)
        assert commits[1:] == initial
        assert commits[0] == run.commit

        # Only the two values changed, byte for byte; the other files are as they were.
        assert _show(repo, "main", "clusters/prod/web.yaml") == deployment.replace(
            f'"{image}:1.0.0"', f'"{image}:1.1.0"'
        )
        assert _show(repo, "main", "clusters/prod/kustomization.yaml") == KUSTOMIZATION.replace(
            "newTag: 1.0.0", "newTag: 1.1.0"
        )
        assert _show(repo, "main", "clusters/staging/web.yaml") == deployment
        changed = run_git(
            "--git-dir", str(repo.bare), "diff", "--name-only", "main~1", "main", env=repo.env
        ).split()
        assert changed == ["clusters/prod/kustomization.yaml", "clusters/prod/web.yaml"]

        message = run_git("--git-dir", str(repo.bare), "log", "-1", "--format=%B", "main", env=repo.env)
        assert message.startswith("Update images (2 fields)\n\n")
        assert f"- {image}:1.1.0" in message
        assert (
            f"- clusters/prod/web.yaml (Deployment.apps/prod/web) spec.template.spec.containers[0].image: "
            f"{image}:1.0.0 -> {image}:1.1.0" in message
        )
        author = run_git("--git-dir", str(repo.bare), "log", "-1", "--format=%an <%ae>", "main", env=repo.env)
        assert author.strip() == "Image Bot <bot@example.test>"
        assert {c.object for c in run.changes} == {ObjectRef("apps", "Deployment", "prod", "web"), None}

        # Second run, no new tag: no commit.
        await automation.reconcile(Request("web"))
        second = _last(automation)
        assert second.commit is None
        assert second.changes == ()
        assert _log(repo) == commits

        # A new tag in range: a new commit on top.
        registry_server.push(repo_name, "1.3.0", distinct=False)
        await automation.reconcile(Request("web"))
        assert _last(automation).commit is not None
        assert _log(repo)[1:] == commits
        assert f'"{image}:1.3.0"' in _show(repo, "main", "clusters/prod/web.yaml")
    writer.close()


async def test_push_to_a_review_branch(
    registry_server: RegistryServer, git_daemon: GitDaemon, git_repos: GitRepoFactory, writer_dir: Path
) -> None:
    repo_name = registry_server.unique_repository("web")
    image = f"{registry_server.host}/{repo_name}"
    registry_server.push(repo_name, ["1.0.0", "1.4.0"], distinct=False)
    deployment = DEPLOYMENT.format(image=image)
    repo = git_repos.create(files={"web.yaml": deployment})
    main_before = _log(repo)
    url = git_daemon.url(repo.name)
    writer = GitWriter(url, branch="main", push_branch="image-updates", workdir=writer_dir)
    async with RegistryClient(registry_server.url) as client:
        policy = ImageUpdatePolicy("flux-system:web", image, ImagePolicy(SemverPolicy(">=1.0.0")), client)
        automation = ImageUpdateAutomation(writer, [policy])
        await automation.reconcile(Request("web"))
        assert _log(repo) == main_before  # the checkout branch is untouched
        review = _log(repo, "image-updates")
        assert review[1:] == main_before
        assert _show(repo, "image-updates", "web.yaml") == deployment.replace("1.0.0", "1.4.0")

        # Nothing new: the review branch already holds the change, so nothing is pushed.
        await automation.reconcile(Request("web"))
        assert _log(repo, "image-updates") == review
        # A newer tag: the review branch moves on, main still untouched.
        registry_server.push(repo_name, "1.5.0", distinct=False)
        await automation.reconcile(Request("web"))
        assert _log(repo, "image-updates")[1:] == review
        assert _show(repo, "image-updates", "web.yaml") == deployment.replace("1.0.0", "1.5.0")
        assert _log(repo) == main_before
    writer.close()


async def test_digest_reflection(
    registry_server: RegistryServer, git_daemon: GitDaemon, git_repos: GitRepoFactory, writer_dir: Path
) -> None:
    repo_name = registry_server.unique_repository("web")
    image = f"{registry_server.host}/{repo_name}"
    digests = registry_server.push(repo_name, ["1.0.0", "1.0.1"])
    repo = git_repos.create(files={"web.yaml": f'image: {image}:1.0.0 # {{"$imagepolicy": "ns:web"}}\n'})
    writer = GitWriter(git_daemon.url(repo.name), branch="main", workdir=writer_dir)
    async with RegistryClient(registry_server.url) as client:
        semver = ImagePolicy(SemverPolicy("1.0.x"))
        policy = ImageUpdatePolicy("ns:web", image, semver, client, reflect_digest=True)
        await ImageUpdateAutomation(writer, [policy]).reconcile(Request("web"))
    assert _show(repo, "main", "web.yaml") == (
        f'image: {image}:1.0.1@{digests["1.0.1"]} # {{"$imagepolicy": "ns:web"}}\n'
    )
    writer.close()


@pytest.mark.parametrize("failure", ["unknown-policy", "no-tag", "registry-down"])
async def test_errors_before_the_commit_push_nothing(
    registry_server: RegistryServer,
    git_daemon: GitDaemon,
    git_repos: GitRepoFactory,
    writer_dir: Path,
    failure: str,
) -> None:
    repo_name = registry_server.unique_repository("web")
    image = f"{registry_server.host}/{repo_name}"
    registry_server.push(repo_name, ["1.0.0", "1.5.0"], distinct=False)
    files = {
        "a.yaml": DEPLOYMENT.format(image=image),
        "b.yaml": 'image: x:1 # {"$imagepolicy": "flux-system:other"}\n'
        if failure == "unknown-policy"
        else "a: 1\n",
    }
    repo = git_repos.create(files=files)
    before = _log(repo)
    writer = GitWriter(git_daemon.url(repo.name), branch="main", workdir=writer_dir)
    url = registry_server.url
    if failure == "registry-down":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
        image = url.removeprefix("http://") + f"/{repo_name}"
    rng = "^9.0" if failure == "no-tag" else "^1.0"
    async with RegistryClient(url, retries=0) as client:
        policy = ImageUpdatePolicy("flux-system:web", image, ImagePolicy(SemverPolicy(rng)), client)
        automation = ImageUpdateAutomation(writer, [policy])
        expected = {
            "unknown-policy": UnknownPolicyError,
            "no-tag": NoMatchingTag,
            "registry-down": RegistryUnreachable,
        }[failure]
        with pytest.raises(expected):
            await automation.reconcile(Request("web"))
    assert _log(repo) == before
    assert automation.last_run is None
    writer.close()


def test_configuration_errors(registry_server: RegistryServer) -> None:
    client = RegistryClient(registry_server.url)
    policy = ImagePolicy(SemverPolicy("*"))
    with pytest.raises(ConfigurationError, match="namespace:name"):
        ImageUpdatePolicy("just-a-name", f"{registry_server.host}/app", policy, client)
    with pytest.raises(ConfigurationError, match="without tag"):
        ImageUpdatePolicy("ns:app", f"{registry_server.host}/app:1.0", policy, client)
    with pytest.raises(ConfigurationError, match="registry"):
        ImageUpdatePolicy("ns:app", "ghcr.io/org/app", policy, client)
    good = ImageUpdatePolicy("ns:app", f"{registry_server.host}/app", policy, client)

    class NoGit:
        async def checkout(self) -> Path:
            raise AssertionError

        async def commit_and_push(self, message: str) -> str | None:
            raise AssertionError

    with pytest.raises(ConfigurationError, match="duplicate"):
        ImageUpdateAutomation(NoGit(), [good, good])
    with pytest.raises(ConfigurationError, match="relative"):
        ImageUpdateAutomation(NoGit(), [good], path="../elsewhere")
    with pytest.raises(ConfigurationError, match="placeholder"):
        ImageUpdateAutomation(NoGit(), [good], commit_message="Update {image}")


WEB = ObjectRef("apps", "Deployment", "prod", "web")


def test_commit_message_template() -> None:
    from reconcilekit.images import Change

    changes = [
        Change("a.yaml", 3, WEB, "spec.x", "ns:web", "image", "r/a:1", "r/a:2"),
        Change("b.yaml", 1, None, "newTag", "ns:web", "tag", "1", "2"),
    ]
    text = CommitMessageTemplate("{{literal}} {count}\n{files}\n{images}\n{changes}").render(changes)
    assert text == (
        "{literal} 2\n- a.yaml\n- b.yaml\n- r/a:2\n"
        "- a.yaml (Deployment.apps/prod/web) spec.x: r/a:1 -> r/a:2\n- b.yaml newTag: 1 -> 2"
    )
