// What `chartroom help COMMAND` and `chartroom COMMAND --help` teach beyond
// the usage line: examples per command, and a line per command family
// (`chartroom release --help`). Kept apart from the command table in
// src/cli/main.ts, so that changing a command's behaviour and changing its
// help are separate edits.

/** Command families: what `chartroom FAMILY --help` says above the list of its commands. */
export const FAMILIES: Record<string, string> = {
  release: "releases: write a release file (init), check it offline (lint), create it on the server, show one",
  license: "licenses: issue and revoke them, mint development ones, a licensee's values override",
  "license values": "a licensee's values override: merged last into that licensee's spec only",
  freeze: "stop the line: refuse every promotion until the freeze is lifted",
  rollout: "staged rollouts (promote --steps): their status, pause, resume, abort, history",
  webhooks: "signed notifications of events to a URL (CloudEvents, or Slack)",
};

/** Examples, one command line each, with a comment after " # ". */
export const EXAMPLES: Record<string, string[]> = {
  token: [
    "chartroom token --sub you@example.com --role admin   # an admin token for 1 hour",
    "export CHARTROOM_TOKEN=$(chartroom token --sub ci --role release-engineer --ttl 8h)",
    "chartroom token --sub you --role admin --data-dir /srv/chartroom/data   # with that server's development keys",
  ],
  login: [
    "chartroom token --sub you --role admin | chartroom login   # store a token for CHARTROOM_URL",
    "chartroom login --url https://chartroom.example.com --token \"$TOKEN\"",
  ],
  logout: ["chartroom logout", "chartroom logout --all"],
  console: ["chartroom console --sub you@example.com --role admin"],
  completion: [
    "source <(chartroom completion bash)   # in ~/.bashrc",
    "chartroom completion zsh > \"${fpath[1]}/_chartroom\"   # then restart zsh",
  ],
  "license dev": ["export LICENSE=$(chartroom license dev --sub customer-1 --channel stable)"],
  "license issue": ["chartroom license issue --sub acme --channel stable --expires 2027-12-31 --notes \"contract 42\""],
  "license revoke": [
    "chartroom license revoke 0b6f3c1e-6d2b-4f43-9a5e-0f3d2c1b7a90 --reason \"contract ended\"",
    "chartroom license revoke JTI --reason \"leaked\" --force   # a jti this server has never seen",
  ],
  "license values set": [
    "chartroom license values set acme acme-values.yaml",
    "chartroom license values show acme > v.yaml && $EDITOR v.yaml && chartroom license values set acme v.yaml",
  ],
  "release init": ["chartroom release init release.yaml   # a commented release file to fill in", "chartroom release init - > hotfix.yaml"],
  "release lint": ["chartroom release lint release.yaml   # offline: the server's own rules, every problem at once"],
  "release create": ["chartroom release lint release.yaml && chartroom release create release.yaml"],
  "release show": ["chartroom release show 0.61.0", "chartroom release show 0.61.0 --json | jq .values"],
  "release required": [
    "chartroom release required 0.59.2 --reason \"schema migration\"   # installations below it pass through it first",
    "chartroom release required 0.59.2 --off --reason \"migration is online now\"",
  ],
  promote: [
    "chartroom promote 0.61.0 --to beta --from unstable --reason \"soaked a day\"",
    "chartroom promote 0.61.0 --to stable --expect 0.60.2 --dry-run   # what would change, changing nothing",
    "chartroom promote 0.61.0 --to stable --steps 5:2h,25:12h,100   # a staged rollout",
  ],
  rollback: ["chartroom rollback stable --reason \"500s after 0.61.0\"", "chartroom rollback stable --to 0.60.1 --reason \"skip 0.60.2\" --dry-run"],
  yank: ["chartroom yank 0.61.0 --reason \"data migration bug\""],
  history: ["chartroom history stable --limit 10"],
  audit: [
    "chartroom audit --target release/0.61.0   # as the TARGET column prints it",
    "chartroom audit --action promote --limit 20",
  ],
  resolve: ["chartroom resolve acme   # which release acme's next poll gets, and why"],
  fleet: ["chartroom fleet --channel stable --not-seen-for 24h"],
  "freeze on": ["chartroom freeze on --reason \"incident 123\" --until 2h"],
  "rollout status": ["chartroom rollout status stable"],
  "webhooks add": ["chartroom webhooks add https://hooks.example.com/chartroom --secret-file secret.txt --events channel.promoted"],
  apply: ["chartroom apply channels/ --dry-run   # the plan, writing nothing", "chartroom apply channels/"],
  migrate: ["DATABASE_URL=postgresql://chartroom@db/chartroom chartroom migrate"],
};
