using Microsoft.Extensions.DependencyInjection;
using Moq;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

public class VmmHostTests
{
    private const string Components = """
        "components": { "memory": "test-memory", "policy": "test-policy", "faults": "test-faults", "pagetable": "test-pagetable" },
        """;

    private static VmmHost LoadFakes(ScratchDirectory scratch, Action<IServiceCollection>? configure = null) =>
        VmmHost.Load(scratch.PluginsJson(("Fakes", TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"))), configure);

    [Fact]
    public void Validate_ScenarioWithKnownComponents_IsValid()
    {
        using var scratch = new ScratchDirectory();
        using var host = LoadFakes(scratch);
        var file = scratch.Write("ok.json", $$"""{ "name": "ok", {{Components}} "options": { "test-memory.lines": 3 }, "steps": [] }""");

        var result = host.Validate(file);

        Assert.True(result.IsValid);
        Assert.Equal("ok", result.Name);
    }

    [Fact]
    public void Validate_UnknownComponent_ReturnsTheErrorWithLocation()
    {
        using var scratch = new ScratchDirectory();
        using var host = LoadFakes(scratch);
        var file = scratch.Write("bad.json", """{ "name": "bad", "components": { "memory": "tdx-ci" }, "steps": [] }""");

        var result = host.Validate(file);

        Assert.False(result.IsValid);
        Assert.Equal($"{file}:1:44: unknown memory 'tdx-ci'; known: test-memory", result.Error!.ToString());
    }

    [Fact]
    public void Validate_OptionOfTheWrongType_IsInvalid()
    {
        using var scratch = new ScratchDirectory();
        using var host = LoadFakes(scratch);
        var file = scratch.Write("bad.json", $$"""{ "name": "bad", {{Components}} "options": { "test-memory.lines": "many" }, "steps": [] }""");

        Assert.Equal("option \"test-memory.lines\" expects an integer, not \"many\"", host.Validate(file).Error!.Message);
    }

    [Fact]
    public void Run_WithAHostSuppliedMachine_ReturnsEveryStep()
    {
        var machine = new Mock<IScenarioMachine>();
        machine.Setup(m => m.Execute(It.IsAny<StepSpec>())).Returns(Outcome.Error(Errno.EFAULT));
        machine.SetupGet(m => m.Warnings).Returns([]);
        machine.SetupGet(m => m.Ledger).Returns(new CostLedger());
        var factory = new Mock<IScenarioMachineFactory>();
        factory.Setup(f => f.Create(It.IsAny<Scenario>(), It.IsAny<SimulationComponents>())).Returns(machine.Object);
        using var scratch = new ScratchDirectory();
        using var host = LoadFakes(scratch, services => services.AddSingleton(factory.Object));
        var file = scratch.Write("run.json", $$"""
            { "name": "run", {{Components}}
              "vms": [ { "name": "vm1", "memory": "8M" } ],
              "steps": [ { "op": "host.gup", "vm": "vm1", "gpa": 0, "expect": { "errno": "EFAULT" } },
                         { "op": "host.gup", "vm": "vm1", "gpa": 0, "expect": { "errno": "EHWPOISON" } } ] }
            """);
        var steps = new List<StepReport>();

        var result = host.Run(host.Validate(file), ScenarioOverrides.None, steps.Add);

        Assert.False(result.Passed);
        Assert.Equal([true, false], steps.Select(s => s.Passed));
        machine.Verify(m => m.Execute(It.IsAny<StepSpec>()), Times.Exactly(2));
    }

    [Fact]
    public void ExpandPaths_Directory_ListsJsonFilesRecursivelyInOrdinalOrder()
    {
        using var scratch = new ScratchDirectory();
        scratch.Write("b.json", "{}");
        scratch.Write("a/z.json", "{}");
        scratch.Write("a/B.json", "{}");
        scratch.Write("a/notes.txt", "");
        var single = scratch.Write("single.txt", "");

        var files = VmmHost.ExpandPaths([scratch.Path, single]);

        Assert.Equal([Path.Combine(scratch.Path, "a", "B.json"), Path.Combine(scratch.Path, "a", "z.json"), Path.Combine(scratch.Path, "b.json"), single], files);
    }

    [Fact]
    public void ExpandPaths_MissingPath_IsAnInvalidScenarioException()
    {
        var error = Assert.Throws<InvalidScenarioException>(() => VmmHost.ExpandPaths(["no/such/place"]));

        Assert.Equal("no/such/place: no such file or directory", error.ToString());
    }
}
