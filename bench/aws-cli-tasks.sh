#!/usr/bin/env bash
# What a user would write to get `ecsx tasks -o tsv` from the official aws
# CLI: every ListTasks page, then DescribeTasks 100 at a time, one after the
# other. Prints one TSV line per task (id-ish columns as ecsx shows them).
#
#   bench/aws-cli-tasks.sh ENDPOINT_URL CLUSTER SERVICE
#
# Uses $AWS_CLI (default: `aws` on PATH). Credentials/region from the env.
set -euo pipefail
endpoint=$1 cluster=$2 service=$3
aws=${AWS_CLI:-aws}
# aws CLI v1 reads AWS_DEFAULT_REGION only; take AWS_REGION as v2 does.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-}}

"$aws" --endpoint-url "$endpoint" ecs list-tasks \
    --cluster "$cluster" --service-name "$service" --desired-status RUNNING \
    --query 'taskArns[]' --output text |
  tr -s '\t ' '\n\n' | sed '/^$/d' |
  xargs -n 100 "$aws" --endpoint-url "$endpoint" ecs describe-tasks \
    --cluster "$cluster" \
    --query 'tasks[].[taskArn,taskDefinitionArn,lastStatus,desiredStatus,createdAt,group,launchType,enableExecuteCommand]' \
    --output text --tasks
