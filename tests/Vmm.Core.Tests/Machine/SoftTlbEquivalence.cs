using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// The check both soft TLB model tests make: one sequence of ops on a machine with the soft TLB and on one without it
/// gives, step by step, the same outcome text, cost ledger, events and lost-error frames.
/// </summary>
internal static class SoftTlbEquivalence
{
    /// <summary>Runs <paramref name="ops"/> on both machines and returns them, for their counters.</summary>
    public static (TestMachine On, TestMachine Off) Run<TOp>(TOp[] ops, Func<bool, TestMachine> newMachine, Func<TestMachine, TOp, string> apply, string what)
    {
        var on = newMachine(true);
        var off = newMachine(false);
        for (var step = 0; step < ops.Length; step++)
        {
            var a = apply(on, ops[step]);
            var b = apply(off, ops[step]);
            Assert.True(a == b, $"step {step} {ops[step]}: {a} with the {what}, {b} without");
            Assert.Equal(off.Ledger.Snapshot(), on.Ledger.Snapshot());
            Assert.Equal(off.Simulation.LastEvents.Select(e => e.ToString()), on.Simulation.LastEvents.Select(e => e.ToString()));
            Assert.Equal(off.Simulation.LastFrames, on.Simulation.LastFrames); // what lost err follows
        }
        return (on, off);
    }
}
