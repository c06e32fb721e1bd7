using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Infrastructure;

/// <summary>Small scenario documents for tests: a valid skeleton with one VM, and helpers to parse and catch errors.</summary>
internal static class ScenarioJson
{
    public const string FileName = "test.json";

    /// <summary>A valid scenario whose steps array is <paramref name="steps"/> (JSON text).</summary>
    public static string WithSteps(string steps, string extra = "") => $$"""
        {
          "name": "test",{{extra}}
          "vms": [ { "name": "vm1", "memory": "8M", "backing": "anon" } ],
          "steps": {{steps}}
        }
        """;

    public static Scenario Parse(string json) => ScenarioParser.Parse(json, FileName);

    public static StepSpec Step(string step) => Parse(WithSteps($"[{step}]")).Steps[0];

    public static ScenarioException Error(string json) => Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(json, FileName));

    public static ScenarioException StepError(string step) => Error(WithSteps($"[{step}]"));
}
