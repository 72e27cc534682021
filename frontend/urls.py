from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from frontend.views import accounts, company, home, pages, passwords, two_factor

app_name = "frontend"

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("health/", pages.health, name="health"),
    path("verify/<str:token>/", pages.verify_email, name="verify-email"),
    path("payouts/return/", pages.payouts_return, name="payouts-return"),
    path("payouts/refresh/", pages.payouts_return, name="payouts-refresh"),
    path("language/", set_language, name="set-language"),
    path("signup/", accounts.signup, name="signup"),
    path("signin/", accounts.SignInView.as_view(), name="signin"),
    path("signin/code/", two_factor.signin_code, name="signin-code"),
    path("account/", accounts.account, name="account"),
    path("account/", include("frontend.views.two_factor")),
    path("account/", include("frontend.views.privacy")),
    path("signout/", accounts.SignOutView.as_view(), name="signout"),
    # Passwords: forgotten (the e-mailed link's path is `marketplace.credentials`'s) and changed.
    path("accounts/password/reset/", passwords.reset_request, name="password-reset"),
    path("accounts/password/reset/sent/", passwords.reset_sent, name="password-reset-sent"),
    path(
        "accounts/reset/<str:uidb64>/<str:token>/",
        passwords.reset_confirm,
        name="password-reset-confirm",
    ),
    path("account/password/", passwords.change, name="password-change"),
    # Django's and the admin's default LOGIN_URL: the sign-in page, `?next=` kept.
    path(
        "accounts/login/",
        RedirectView.as_view(pattern_name="frontend:signin", query_string=True),
        name="accounts-login",
    ),
    path("home/", home.home, name="home"),
    # The company's pages.
    path("company/", company.dashboard, name="company-dashboard"),
    path("company/briefs/new/", company.brief_create, name="company-brief-new"),
    path("company/briefs/<int:pk>/", company.brief_detail, name="company-brief"),
    path("company/briefs/<int:pk>/edit/", company.brief_edit, name="company-brief-edit"),
    path("company/briefs/<int:pk>/publish/", company.brief_publish, name="company-brief-publish"),
    path("company/briefs/<int:pk>/cancel/", company.brief_cancel, name="company-brief-cancel"),
    path("company/briefs/<int:pk>/matches/", company.brief_matches, name="company-matches"),
    path("company/briefs/<int:pk>/bids/", company.brief_bids, name="company-bids"),
    path(
        "company/bids/<int:pk>/shortlist/",
        company.bid_shortlist_view,
        name="company-bid-shortlist",
    ),
    path("company/bids/<int:pk>/reject/", company.bid_reject_view, name="company-bid-reject"),
    path("company/bids/<int:pk>/accept/", company.bid_accept_view, name="company-bid-accept"),
    path("company/contracts/", company.contracts, name="company-contracts"),
    path("company/contracts/<int:pk>/", company.contract_detail, name="company-contract"),
    path("company/contracts/<int:pk>/money/", company.contract_money, name="company-money"),
    path(
        "company/contracts/<int:pk>/cancel/",
        company.contract_cancel_view,
        name="company-contract-cancel",
    ),
    path("company/contracts/<int:pk>/review/", company.contract_review, name="company-review"),
    path("company/milestones/<int:pk>/fund/", company.milestone_fund_view, name="company-fund"),
    path(
        "company/milestones/<int:pk>/approve/",
        company.milestone_approve_view,
        name="company-approve",
    ),
    path(
        "company/milestones/<int:pk>/changes/",
        company.milestone_changes_view,
        name="company-changes",
    ),
    path(
        "company/milestones/<int:pk>/dispute/",
        company.milestone_dispute_view,
        name="company-dispute",
    ),
    path("company/spending/", company.spending, name="company-spending"),
    path("company/reputation/", company.reputation, name="company-reputation"),
    path("company/reviews/<int:pk>/reply/", company.review_reply_view, name="company-review-reply"),
    path("company/skills/", company.skill_search, name="skill-search"),
    path("company/schools/", company.school_search, name="school-search"),
    path("school/", include("frontend.views.coordinator")),
    path("student/", include("frontend.views.student")),
    path("notifications/", include("frontend.views.notifications")),
]
