import { Component, render, type ComponentChildren } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Route, Switch, Redirect, useLocation } from 'wouter-preact';
import { ApiError, setUnauthorizedHandler, type Session } from './api';
import { MeContext } from './session';
import { ErrorBox, Loading, useApi } from './ui/kit';
import { Layout } from './layout';
import { LoginPage, SetupPage } from './pages/auth';
import { OverviewPage } from './pages/overview';
import { RunsPage } from './pages/runs';
import { RunPage } from './pages/run';
import './style.css';

// Pages after the first screen load on demand, to keep the initial JS small.
const TestCasePage = lazy(() => import('./pages/test-case').then((m) => ({ default: m.TestCasePage })));
const FlakinessPage = lazy(() => import('./pages/flakiness').then((m) => ({ default: m.FlakinessPage })));
const TrendsPage = lazy(() => import('./pages/trends').then((m) => ({ default: m.TrendsPage })));
const ProjectSettingsPage = lazy(() => import('./pages/settings').then((m) => ({ default: m.ProjectSettingsPage })));
const TeamSettingsPage = lazy(() => import('./pages/team').then((m) => ({ default: m.TeamSettingsPage })));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
    },
  },
});
// A 401 means the session ended: asking again who is signed in leads to the login page.
setUnauthorizedHandler(() => {
  queryClient.invalidateQueries({ queryKey: ['/api/auth/session'] });
});

// A page that throws while rendering shows the error instead of a blank page
// (keyed by the URL, so navigating away starts afresh).
class PageErrorBoundary extends Component<{ children: ComponentChildren }, { error: Error | null }> {
  state = { error: null as Error | null };
  componentDidCatch(error: Error) {
    this.setState({ error });
  }
  render() {
    return this.state.error ? <ErrorBox error={this.state.error} title="This page failed" /> : this.props.children;
  }
}

// GET /api/auth/session answers 200 signed in or not, so a first visit or an
// ended session provokes no failed request: signed out goes to the login page
// (or to the first-run setup), signed in to the page asked for.
function Authenticated() {
  const session = useApi<Session>('/api/auth/session', undefined, { staleTime: 60_000 });
  const [location] = useLocation();
  if (session.isLoading) return <Loading what="your session" />;
  if (session.error) return <main class="center"><ErrorBox error={session.error} title="Could not load your session" /></main>;
  const me = session.data!.user;
  if (!me) return <Redirect to={session.data!.needsSetup ? '/setup' : `/login?next=${encodeURIComponent(location)}`} />;
  return (
    <MeContext.Provider value={me}>
      <Layout>
        <PageErrorBoundary key={location}>
        <Suspense fallback={<Loading />}>
          <Switch>
            <Route path="/" component={OverviewPage} />
            <Route path="/projects/:projectId/runs" component={RunsPage} />
            <Route path="/runs/:runId" component={RunPage} />
            <Route path="/projects/:projectId/tests/:testId" component={TestCasePage} />
            <Route path="/projects/:projectId/flakiness" component={FlakinessPage} />
            <Route path="/projects/:projectId/trends" component={TrendsPage} />
            <Route path="/projects/:projectId/settings" component={ProjectSettingsPage} />
            <Route path="/teams/:teamId/settings" component={TeamSettingsPage} />
            <Route>
              <ErrorBox error={new ApiError(404, 'not_found', `There is no page at ${location}.`)} title="Page not found" />
            </Route>
          </Switch>
        </Suspense>
        </PageErrorBoundary>
      </Layout>
    </MeContext.Provider>
  );
}

function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <Switch>
        <Route path="/login" component={LoginPage} />
        <Route path="/setup" component={SetupPage} />
        <Route component={Authenticated} />
      </Switch>
    </QueryClientProvider>
  );
}

render(<App />, document.getElementById('app')!);
