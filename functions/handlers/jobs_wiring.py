"""The use cases of a job's life before its fan-out, wired once per container from table and queue names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.dal.config import ConfigTable
from functions.dal.fanout_queue import FanOutQueue
from functions.dal.jobs import JobsTable
from functions.dal.ledger import LedgerTable
from functions.dal.list_records import ListRecords
from functions.dal.messages import MessagesTable
from functions.dal.objects import ObjectStore
from functions.dal.opt_outs import OptOutsTable
from functions.dal.preview_queue import PreviewQueue
from functions.dal.subject_sends import SubjectSendsTable
from functions.logic.calling_lists import CallingLists
from functions.logic.compose import Composer
from functions.logic.mass import MassMessages
from functions.logic.previews import Previews
from functions.logic.tenant_templates import TenantTemplates
from functions.logic.three_a_day import ThreeADay
from functions.settings import ApiSettings, JobsSettings


@dataclass(frozen=True)
class JobServices:
    jobs: JobsTable
    previews: Previews
    mass: MassMessages
    calling_lists: CallingLists


def job_services(
    settings: ApiSettings | JobsSettings, dynamodb: Any, sqs: Any, s3: Any, composer: Composer | None = None
) -> JobServices:
    config = ConfigTable(dynamodb.Table(settings.config_table))
    messages = MessagesTable(dynamodb.Table(settings.messages_table))
    opt_outs = OptOutsTable(dynamodb.Table(settings.opt_outs_table))
    if composer is None:
        three_a_day = ThreeADay(
            SubjectSendsTable(dynamodb.Table(settings.subject_sends_table)), settings.three_a_day_states
        )
        composer = Composer(config, messages, opt_outs, three_a_day=three_a_day)
    jobs = JobsTable(dynamodb.Table(settings.jobs_table))
    store = ObjectStore(s3, settings.lists_bucket)
    records = ListRecords(store)
    fanout = FanOutQueue(sqs, settings.fanout_queue_url)
    previews = Previews(
        config,
        jobs,
        records,
        store,
        opt_outs,
        composer,
        PreviewQueue(sqs, settings.preview_queue_url),
        fanout,
        balances=LedgerTable(dynamodb.Table(settings.ledger_table)),
    )
    mass = MassMessages(config, jobs, messages, composer, previews, fanout)
    templates = TenantTemplates(config, composer)
    calling_lists = CallingLists(config, composer, templates, jobs, records, mass, previews)
    return JobServices(jobs=jobs, previews=previews, mass=mass, calling_lists=calling_lists)
