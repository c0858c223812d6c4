local base = { desiredCount: 2, launchType: 'FARGATE' };
base {
  serviceName: 'ignored-the-config-names-it',
  deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50 },
}
