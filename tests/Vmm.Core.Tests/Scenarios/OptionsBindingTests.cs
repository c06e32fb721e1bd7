using Vmm.Core.Engine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using static Vmm.Core.Tests.Infrastructure.RunnerHarness;

namespace Vmm.Core.Tests.Scenarios;

public class OptionsBindingTests
{
    private static string WithOptions(string options) => $$"""{ "name": "n", "options": {{options}}, "steps": [] }""";

    private static SimulationComponents Bound(string options)
    {
        var factory = new ScriptedMachineFactory();
        Run(WithOptions(options), factory);
        return factory.Components!;
    }

    [Fact]
    public void Run_LinuxOptionFlat_BindsKernelOptionsOverDefaults()
    {
        var kernel = Bound("""{ "linux.earlyKill": true }""").Kernel;

        Assert.True(kernel.EarlyKill);
        Assert.True(kernel.Recovery);
    }

    [Fact]
    public void Run_LinuxOptionNested_BindsTheSame()
    {
        var kernel = Bound("""{ "linux": { "recovery": false } }""").Kernel;

        Assert.False(kernel.Recovery);
        Assert.False(kernel.EarlyKill);
    }

    [Fact]
    public void Run_CostOption_SetsTheCostTable()
    {
        var costs = Bound("""{ "cost.tlbShootdown": 3000, "cost.pageFault": 1 }""").Costs;

        Assert.Equal(3000, costs.TlbShootdown);
        Assert.Equal(1, costs.PageFault);
        Assert.Equal(20, costs.PageWalk);
    }

    [Fact]
    public void Run_ComponentOptions_ReachTheComponentsConstructor()
    {
        var memory = (FakeMemory)Bound("""{ "plain": { "lines": 7, "label": "seven", "mode": "Loud" } }""").Memory;

        Assert.Equal(7, memory.Options.Lines);
        Assert.Equal("seven", memory.Options.Label);
        Assert.Equal(FakeMode.Loud, memory.Options.Mode);
    }

    [Fact]
    public void Run_WithoutOptions_ComponentsGetTheirDefaults()
    {
        var memory = (FakeMemory)Bound("{}").Memory;

        Assert.Equal(64, memory.Options.Lines);
        Assert.Equal(FakeMode.Quiet, memory.Options.Mode);
    }

    [Fact]
    public void Run_UnknownOption_ListsTheKnownOnesAtTheKey()
    {
        var error = RunError("{ \"name\": \"n\",\n  \"options\": { \"plain.line\": 3 }, \"steps\": [] }");

        Assert.Equal("unknown option \"line\" for \"plain\" (did you mean \"lines\"?); known: lines, label, mode", error.Message);
        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 2, 16), error.Location);
    }

    [Fact]
    public void Run_UnknownSection_ListsTheKnownSections()
    {
        var error = RunError(WithOptions("""{ "plian.lines": 3 }"""));

        Assert.Equal("unknown option section \"plian\" in \"plian.lines\" (did you mean \"plain\"?); known sections: cost, kvm, linux, memory, plain", error.Message);
    }

    [Fact]
    public void Run_OptionForAComponentWithoutOptions_SaysItTakesNone()
    {
        var error = RunError(WithOptions("""{ "none.strict": true }"""));

        Assert.Equal("component \"none\" takes no options; remove \"none.strict\"", error.Message);
    }

    [Theory]
    [InlineData("""{ "linux.earlyKill": "yes" }""", "option \"linux.earlyKill\" expects true or false, not \"yes\"")]
    [InlineData("""{ "linux.earlyKill": null }""", "option \"linux.earlyKill\" expects true or false, not null")]
    [InlineData("""{ "plain.lines": 1.5 }""", "option \"plain.lines\" expects an integer, not 1.5")]
    [InlineData("""{ "plain.mode": "Silent" }""", "option \"plain.mode\" expects one of: Quiet, Loud, not \"Silent\"")]
    [InlineData("""{ "cost.gup": "fast" }""", "option \"cost.gup\" expects a number, not \"fast\"")]
    [InlineData("""{ "plain.label": 3 }""", "option \"plain.label\" expects a string, not 3")]
    public void Run_OptionOfTheWrongType_NamesTheExpectedType(string options, string message)
    {
        Assert.Equal(message, RunError(WithOptions(options)).Message);
    }

    [Fact]
    public void Get_WithoutConfigure_ReturnsDefaults()
    {
        var source = new ScenarioOptionsSource();

        Assert.True(source.Get<KernelOptions>("linux").Recovery);
    }

    [Fact]
    public void Describe_KernelOptions_GivesNamesTypesDefaultsAndDescriptions()
    {
        var options = OptionsBinder.Describe(typeof(KernelOptions), "linux");

        Assert.Equal(["linux.earlyKill", "linux.recovery"], options.Select(o => o.Key));
        Assert.Equal(["false", "true"], options.Select(o => o.Default));
        Assert.All(options, o => Assert.Equal("true or false", o.Type));
        Assert.StartsWith("vm.memory_failure_early_kill", options[0].Description, StringComparison.Ordinal);
    }
}
