"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from projects.messaging.api import files, views

urlpatterns = [
    path(
        "contracts/<id:pk>/messages/",
        views.ContractMessagesApi.as_view(),
        name="contract-messages",
    ),
    path(
        "contracts/<id:pk>/messages/read/",
        views.ContractMessagesReadApi.as_view(),
        name="contract-messages-read",
    ),
    path(
        "projects/<id:pk>/questions/",
        views.ProjectQuestionsApi.as_view(),
        name="project-questions",
    ),
    path(
        "projects/<id:pk>/questions/<id:thread_pk>/messages/",
        views.QuestionThreadMessagesApi.as_view(),
        name="project-question-messages",
    ),
    path(
        "projects/<id:pk>/questions/<id:thread_pk>/read/",
        views.QuestionThreadReadApi.as_view(),
        name="project-question-read",
    ),
    path(
        "milestones/<id:pk>/deliveries/",
        files.MilestoneDeliveriesApi.as_view(),
        name="milestone-deliveries",
    ),
    path("files/<uuid:file_id>/", files.FileDownloadApi.as_view(), name="file-download"),
]
