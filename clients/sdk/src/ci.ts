// What the CI environment says about a run: provider, build id (shards of one
// build share it, which merges them into one run), build URL, branch, commit.
// Every value can be overridden with RUNLEDGER_* variables.

export type CiInfo = {
  ciProvider: string | null;
  ciBuildId: string | null;
  ciBuildUrl: string | null;
  branch: string | null;
  commitSha: string | null;
  commitMessage: string | null;
  commitAuthor: string | null;
};

type Env = Record<string, string | undefined>;
const v = (env: Env, ...names: string[]) => {
  for (const n of names) {
    const x = env[n]?.trim();
    if (x) return x;
  }
  return null;
};

type Provider = { name: string; detect: (env: Env) => boolean; read: (env: Env) => Omit<CiInfo, 'ciProvider'> };

export const CI_PROVIDERS: Provider[] = [
  {
    name: 'github-actions',
    detect: (e) => e.GITHUB_ACTIONS === 'true',
    read: (e) => {
      const runId = v(e, 'GITHUB_RUN_ID');
      const server = v(e, 'GITHUB_SERVER_URL') ?? 'https://github.com';
      const repo = v(e, 'GITHUB_REPOSITORY');
      return {
        // A re-run of the workflow is a new run: the attempt is part of the build.
        ciBuildId: runId ? `${runId}-${v(e, 'GITHUB_RUN_ATTEMPT') ?? '1'}` : null,
        ciBuildUrl: runId && repo ? `${server}/${repo}/actions/runs/${runId}` : null,
        branch: v(e, 'GITHUB_HEAD_REF', 'GITHUB_REF_NAME'),
        commitSha: v(e, 'GITHUB_SHA'),
        commitMessage: null,
        commitAuthor: v(e, 'GITHUB_ACTOR'),
      };
    },
  },
  {
    name: 'gitlab-ci',
    detect: (e) => e.GITLAB_CI === 'true',
    read: (e) => ({
      ciBuildId: v(e, 'CI_PIPELINE_ID'),
      ciBuildUrl: v(e, 'CI_PIPELINE_URL'),
      branch: v(e, 'CI_MERGE_REQUEST_SOURCE_BRANCH_NAME', 'CI_COMMIT_BRANCH', 'CI_COMMIT_REF_NAME'),
      commitSha: v(e, 'CI_COMMIT_SHA'),
      commitMessage: v(e, 'CI_COMMIT_MESSAGE'),
      commitAuthor: v(e, 'CI_COMMIT_AUTHOR'),
    }),
  },
  {
    name: 'jenkins',
    detect: (e) => !!(e.JENKINS_URL || e.JENKINS_HOME),
    read: (e) => ({
      // BUILD_TAG is jenkins-<job>-<number>: unique across jobs, unlike BUILD_NUMBER.
      ciBuildId: v(e, 'BUILD_TAG', 'BUILD_NUMBER'),
      ciBuildUrl: v(e, 'BUILD_URL'),
      branch: (v(e, 'CHANGE_BRANCH', 'BRANCH_NAME', 'GIT_BRANCH') ?? '').replace(/^origin\//, '') || null,
      commitSha: v(e, 'GIT_COMMIT'),
      commitMessage: null,
      commitAuthor: v(e, 'CHANGE_AUTHOR', 'GIT_AUTHOR_NAME'),
    }),
  },
  {
    name: 'buildkite',
    detect: (e) => e.BUILDKITE === 'true',
    read: (e) => ({
      ciBuildId: v(e, 'BUILDKITE_BUILD_ID'),
      ciBuildUrl: v(e, 'BUILDKITE_BUILD_URL'),
      branch: v(e, 'BUILDKITE_BRANCH'),
      commitSha: v(e, 'BUILDKITE_COMMIT'),
      commitMessage: v(e, 'BUILDKITE_MESSAGE'),
      commitAuthor: v(e, 'BUILDKITE_BUILD_AUTHOR_EMAIL', 'BUILDKITE_BUILD_AUTHOR'),
    }),
  },
  {
    name: 'circleci',
    detect: (e) => e.CIRCLECI === 'true',
    read: (e) => ({
      // Parallel jobs of one workflow share the workflow id, not the build number.
      ciBuildId: v(e, 'CIRCLE_WORKFLOW_ID', 'CIRCLE_BUILD_NUM'),
      ciBuildUrl: v(e, 'CIRCLE_BUILD_URL'),
      branch: v(e, 'CIRCLE_BRANCH'),
      commitSha: v(e, 'CIRCLE_SHA1'),
      commitMessage: null,
      commitAuthor: v(e, 'CIRCLE_USERNAME'),
    }),
  },
];

export function detectCi(env: Env = process.env): CiInfo {
  const provider = CI_PROVIDERS.find((p) => p.detect(env));
  const found: CiInfo = provider
    ? { ciProvider: provider.name, ...provider.read(env) }
    : { ciProvider: null, ciBuildId: null, ciBuildUrl: null, branch: null, commitSha: null, commitMessage: null, commitAuthor: null };
  return {
    ciProvider: found.ciProvider,
    ciBuildId: v(env, 'RUNLEDGER_BUILD_ID') ?? found.ciBuildId,
    ciBuildUrl: v(env, 'RUNLEDGER_BUILD_URL') ?? found.ciBuildUrl,
    branch: v(env, 'RUNLEDGER_BRANCH') ?? found.branch,
    commitSha: v(env, 'RUNLEDGER_COMMIT_SHA') ?? found.commitSha,
    commitMessage: v(env, 'RUNLEDGER_COMMIT_MESSAGE') ?? found.commitMessage,
    commitAuthor: v(env, 'RUNLEDGER_COMMIT_AUTHOR') ?? found.commitAuthor,
  };
}
