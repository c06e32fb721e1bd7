using System.Runtime.Intrinsics;
using Vmm.Abstractions;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;
using Sse2 = System.Runtime.Intrinsics.X86.Sse2;

namespace Vmm.Plugins.Tdx.Ci;

/// <summary>
/// The fast MAC: AES-128 CBC-MAC over the tweak block and the line's four 16-byte blocks (5 block
/// encryptions per line), with AES-NI intrinsics where the CPU has them and .NET's AES otherwise. Both
/// paths give the same value. Not the hardware's construction (that one is SHA-3 based: <see cref="Sha3LineMac"/>),
/// but it detects the same events (any bit flip, host or wrong-key writes) with the same 28-bit width.
/// </summary>
public sealed class AesLineMac : ILineMac, IDisposable
{
    private readonly Vector128<byte>[] _roundKeys = new Vector128<byte>[11];
    private readonly System.Security.Cryptography.Aes? _portable;

    public AesLineMac(byte[] key, bool forcePortable = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 16) throw new ArgumentException("AES-128 needs a 16-byte key.", nameof(key));
        UsesAesNi = X86Aes.IsSupported && !forcePortable;
        if (UsesAesNi) ExpandKey(key, _roundKeys);
        else
        {
            _portable = System.Security.Cryptography.Aes.Create();
            _portable.Key = key;
        }
    }

    public string Name => UsesAesNi ? "aes (AES-NI)" : "aes (portable)";

    /// <summary>True when the AES-NI intrinsics path is in use.</summary>
    public bool UsesAesNi { get; }

    public uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        Span<byte> tweak = stackalloc byte[16];
        LineMacs.WriteTweak(tweak, physicalAddress, key, owner);
        if (UsesAesNi)
        {
            var state = Encrypt(Vector128.Create<byte>(tweak));
            for (var i = 0; i < 4; i++) state = Encrypt(state ^ Vector128.Create<byte>(line.Slice(i * 16, 16)));
            return state.AsUInt32().ToScalar() & LineMacs.Mask28;
        }
        Span<byte> block = stackalloc byte[16];
        Span<byte> next = stackalloc byte[16];
        _portable!.EncryptEcb(tweak, block, System.Security.Cryptography.PaddingMode.None);
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 16; j++) next[j] = (byte)(block[j] ^ line[i * 16 + j]);
            _portable.EncryptEcb(next, block, System.Security.Cryptography.PaddingMode.None);
        }
        return BitConverter.ToUInt32(block) & LineMacs.Mask28;
    }

    /// <summary>One AES-128 block encryption with the expanded key (AESENC ×9, AESENCLAST).</summary>
    internal Vector128<byte> Encrypt(Vector128<byte> block)
    {
        var state = block ^ _roundKeys[0];
        for (var round = 1; round < 10; round++) state = X86Aes.Encrypt(state, _roundKeys[round]);
        return X86Aes.EncryptLast(state, _roundKeys[10]);
    }

    /// <summary>AES-128 key expansion with AESKEYGENASSIST (Intel's AES-NI white paper, figure 26).</summary>
    private static void ExpandKey(byte[] key, Vector128<byte>[] roundKeys)
    {
        roundKeys[0] = Vector128.Create(key);
        roundKeys[1] = Step(roundKeys[0], X86Aes.KeygenAssist(roundKeys[0], 0x01));
        roundKeys[2] = Step(roundKeys[1], X86Aes.KeygenAssist(roundKeys[1], 0x02));
        roundKeys[3] = Step(roundKeys[2], X86Aes.KeygenAssist(roundKeys[2], 0x04));
        roundKeys[4] = Step(roundKeys[3], X86Aes.KeygenAssist(roundKeys[3], 0x08));
        roundKeys[5] = Step(roundKeys[4], X86Aes.KeygenAssist(roundKeys[4], 0x10));
        roundKeys[6] = Step(roundKeys[5], X86Aes.KeygenAssist(roundKeys[5], 0x20));
        roundKeys[7] = Step(roundKeys[6], X86Aes.KeygenAssist(roundKeys[6], 0x40));
        roundKeys[8] = Step(roundKeys[7], X86Aes.KeygenAssist(roundKeys[7], 0x80));
        roundKeys[9] = Step(roundKeys[8], X86Aes.KeygenAssist(roundKeys[8], 0x1b));
        roundKeys[10] = Step(roundKeys[9], X86Aes.KeygenAssist(roundKeys[9], 0x36));

        static Vector128<byte> Step(Vector128<byte> previous, Vector128<byte> assist)
        {
            var t = Sse2.Shuffle(assist.AsUInt32(), 0xFF).AsByte();
            var k = previous;
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            return k ^ t;
        }
    }

    public void Dispose() => _portable?.Dispose();
}
