namespace Vmm.Hosting.Tests.Exporters;

/// <summary>Run reports built by hand (BenchmarkDotNet's mock summaries): what the exporter tests render.</summary>
internal static class FakeRuns
{
    public static ScenarioReport Passing { get; } = new(
        "scenarios/k01.json",
        "K1: a VMM touch gets SIGBUS",
        Passed: true,
        [
            new StepReport(1, "host.write", "\"ok\"", "ok", "\"ok\"", "ok", true),
            new StepReport(2, "host.read", """{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}""", "sigbus BUS_MCEERR_AR lsb 12",
                """{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}""", "sigbus BUS_MCEERR_AR lsb 12", true),
            new StepReport(3, "host.fork", null, null, "\"ok\"", "ok", true),
        ],
        [],
        "5.16",
        [new ComponentChoice("memory", "plain"), new ComponentChoice("policy", "none")],
        new ScenarioCosts(1250.5, [new CostCount("PageFault", 3), new CostCount("TlbFlush", 1)]));

    public static ScenarioReport Failing { get; } = new(
        "scenarios/v2 | pipe.json",
        "P2: a *starred* name",
        Passed: false,
        [
            new StepReport(1, "inspect", """{"state":{"hwpoison":true}}""", "state hwpoison=true",
                """{"state":{"hwpoison":false,"owner":"vm1"}}""", "state hwpoison=false", false, "owner map says shared"),
        ],
        ["hwpoison: 33 shared ranges, the cap is 32"],
        "6.11",
        [new ComponentChoice("memory", "tdx-ci"), new ComponentChoice("policy", "hwpoison-v2")],
        ScenarioCosts.None);

    public static RunReport Mixed { get; } = new(
        [Passing, Failing],
        [new Diagnostic("scenarios/bad.json", 3, 14, "unknown op 'host.reed'; did you mean 'host.read'?")],
        [new TimedOutScenario("scenarios/slow.json", "slow", TimeSpan.FromSeconds(1.5), 2, 4, "scenarios/slow.json: stopped after 1.5 s (--timeout) with 2 of 4 steps done")],
        [new InternalError("scenarios/bug.json", "System.InvalidOperationException: fake bug\n   at Somewhere()")]);
}
