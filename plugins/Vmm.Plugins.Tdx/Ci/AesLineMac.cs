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
    private readonly System.Security.Cryptography.ICryptoTransform? _ecb;
    // Scratch blocks of the portable path: ICryptoTransform works on arrays, and EncryptEcb allocates per call.
    private readonly byte[] _input = new byte[16];
    private readonly byte[] _output = new byte[16];

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
            _portable.Mode = System.Security.Cryptography.CipherMode.ECB;
            _portable.Padding = System.Security.Cryptography.PaddingMode.None;
            _ecb = _portable.CreateEncryptor();
        }
    }

    public string Name => UsesAesNi ? "aes (AES-NI)" : "aes (portable)";

    /// <summary>True when the AES-NI intrinsics path is in use.</summary>
    public bool UsesAesNi { get; }

    public uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        if (UsesAesNi) return ComputeAesNi(line, physicalAddress, key, owner);
        LineMacs.WriteTweak(_input, physicalAddress, key, owner);
        _ecb!.TransformBlock(_input, 0, 16, _output, 0);
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 16; j++) _input[j] = (byte)(_output[j] ^ line[i * 16 + j]);
            _ecb.TransformBlock(_input, 0, 16, _output, 0);
        }
        return BitConverter.ToUInt32(_output) & LineMacs.Mask28;
    }

    /// <summary>
    /// The AES-NI path: the tweak block is built in a register (the same bytes <see cref="LineMacs.WriteTweak"/>
    /// writes) and the round keys are held in locals, so the five chained encryptions stay in registers.
    /// </summary>
    private uint ComputeAesNi(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        if (line.Length < PageGeometry.LineSize) throw new ArgumentException("A line is 64 bytes.", nameof(line));
        var keys = _roundKeys;
        Vector128<byte> k0 = keys[0], k1 = keys[1], k2 = keys[2], k3 = keys[3], k4 = keys[4], k5 = keys[5],
            k6 = keys[6], k7 = keys[7], k8 = keys[8], k9 = keys[9], k10 = keys[10];
        var high = key.Value | (owner ? 1UL << 16 : 0) | TweakLabel;
        var state = Vector128.Create(physicalAddress, high).AsByte();
        for (var i = 0; i <= 4; i++)
        {
            if (i > 0) state ^= Vector128.Create<byte>(line.Slice((i - 1) * 16, 16));
            state ^= k0;
            state = X86Aes.Encrypt(state, k1);
            state = X86Aes.Encrypt(state, k2);
            state = X86Aes.Encrypt(state, k3);
            state = X86Aes.Encrypt(state, k4);
            state = X86Aes.Encrypt(state, k5);
            state = X86Aes.Encrypt(state, k6);
            state = X86Aes.Encrypt(state, k7);
            state = X86Aes.Encrypt(state, k8);
            state = X86Aes.Encrypt(state, k9);
            state = X86Aes.EncryptLast(state, k10);
        }
        return state.AsUInt32().ToScalar() & LineMacs.Mask28;
    }

    /// <summary>Bytes 11..15 of the tweak block ("TDXCI") as the top of its second 64-bit half.</summary>
    private const ulong TweakLabel = ((ulong)'T' << 24) | ((ulong)'D' << 32) | ((ulong)'X' << 40) | ((ulong)'C' << 48) | ((ulong)'I' << 56);

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

    public void Dispose()
    {
        _ecb?.Dispose();
        _portable?.Dispose();
    }
}
