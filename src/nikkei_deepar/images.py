"""Where SageMaker's built-in DeepAR container lives, per region. Pure: no network, no boto3.

The registry accounts come from the SageMaker Python SDK's image table (see AWS-FACTS.md). The seed
project hard-coded `246618743249.../sagemaker-forecasting-deepar:1`, which is not in that table.
China regions use the `amazonaws.com.cn` domain and the `aws-cn` partition; GovCloud uses `aws-us-gov`.
"""

from __future__ import annotations

from nikkei_deepar.errors import ConfigError

REPOSITORY = "forecasting-deepar"
TAG = "1"

# region -> the ECR registry account that serves forecasting-deepar there
REGISTRIES: dict[str, str] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "633353088612",
    "ap-northeast-2": "204372634319",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "514117268639",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "495149712605",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "224300973850",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "522234722520",
    "us-east-2": "566113047672",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-west-1": "632365934929",
    "us-west-2": "156387875391",
}


def partition(region: str) -> str:
    """The ARN partition of a region: `aws`, `aws-cn` or `aws-us-gov`."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def deepar_registry(region: str) -> str:
    """The account id of the ECR registry that serves DeepAR in `region`."""
    try:
        return REGISTRIES[region]
    except KeyError:
        raise ConfigError(
            f"aws.region: SageMaker's DeepAR image is not published in {region!r} (as far as this tool "
            "knows)",
            hint="use one of: " + ", ".join(sorted(REGISTRIES)),
            code="region-unsupported",
        ) from None


def deepar_image_uri(region: str) -> str:
    """`{account}.dkr.ecr.{region}.amazonaws.com[.cn]/forecasting-deepar:1`."""
    return f"{deepar_registry(region)}.dkr.ecr.{region}.{dns_suffix(region)}/{REPOSITORY}:{TAG}"


def deepar_repository_arn(region: str) -> str:
    """The ECR repository ARN the execution role must be allowed to pull from."""
    return f"arn:{partition(region)}:ecr:{region}:{deepar_registry(region)}:repository/{REPOSITORY}"
